#!/usr/bin/env bash
# Runs inside the benchmark container (copied there by ./run); not meant to be run by hand.
#   in-container.sh setup                      install and configure everything
#   in-container.sh measure MODE COUNT         one timed run; prints "RESULT ..." lines
#   in-container.sh down MODE ACTION           the milter stopped, milter_default_action=ACTION
#   in-container.sh headers MODE               the authentication headers of one delivered message
#   in-container.sh forged MODE                mail forging a p=reject domain, sent to the inbound listener
#   in-container.sh versions                   versions of the installed candidates
#   in-container.sh role DIR                   take the role mode's files (role_files.py's output, in DIR)
# MODE is none, role (rspamd with the files the rspamd role's model decides), rspamd (rspamd
# with the hand-written configuration below) or opendkim (OpenDKIM + OpenDMARC + policyd-spf).
set -euo pipefail

# The local senders' domain: signed on the way out, checked on the way in. Not under .test: the
# libunbound inside OpenDKIM answers NXDOMAIN for .test itself (a default local zone), and the
# only way around that, ResolverConfiguration, crashes OpenDKIM under load (see README.md).
DOMAIN=${BENCH_DOMAIN:-example.net}
SELECTOR=bench
RELAY=remote.test             # recipient domain of hop 1; hop 2 rewrites it to the local user
MAILDIR=/home/bench/Maildir
SENDER=bench@$DOMAIN
FORGED=forged.net             # SPF -all, DMARC p=reject, no DKIM key: its mail must be refused

ip_address() { ip -4 -o addr show eth0 | awk '{sub(/\/.*/, "", $4); print $4; exit}'; }

setup() {
  local ip
  ip=$(ip_address)
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
  echo "postfix postfix/mailname string mx.$DOMAIN" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends postfix rspamd opendkim opendkim-tools opendmarc \
    postfix-policyd-spf-python dnsmasq-base openssl procps iproute2 >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log; exit 1; }
  id bench >/dev/null 2>&1 || useradd -m bench

  # One 2048-bit RSA key for both candidates.
  install -d -m 0755 /etc/bench
  [ -f /etc/bench/dkim.key ] || openssl genrsa -out /etc/bench/dkim.key 2048 2>/dev/null
  install -d -m 0750 -o _rspamd -g _rspamd /var/lib/rspamd/dkim
  install -m 0600 -o _rspamd -g _rspamd /etc/bench/dkim.key "/var/lib/rspamd/dkim/$DOMAIN.key"
  install -m 0600 -o opendkim -g opendkim /etc/bench/dkim.key /etc/dkimkeys/$SELECTOR.private
  local public
  public=$(openssl rsa -in /etc/bench/dkim.key -pubout -outform DER 2>/dev/null | base64 -w0)

  # DNS: dnsmasq on 127.0.0.1 answers for the test zone only; every other name gets REFUSED at
  # once (no upstream servers), so no lookup leaves the container or waits for a timeout.
  local dkim_txt="v=DKIM1; k=rsa; p=$public" chunks="" rest
  rest=$dkim_txt
  while [ -n "$rest" ]; do chunks="$chunks,\"${rest:0:250}\""; rest=${rest:250}; done
  cat >/etc/bench/dnsmasq.conf <<EOF
no-resolv
no-hosts
listen-address=127.0.0.1,$ip
bind-interfaces
bogus-priv
txt-record=$DOMAIN,"v=spf1 ip4:$ip -all"
txt-record=_dmarc.$DOMAIN,"v=DMARC1; p=reject"
txt-record=$FORGED,"v=spf1 -all"
txt-record=_dmarc.$FORGED,"v=DMARC1; p=reject"
txt-record=$SELECTOR._domainkey.$DOMAIN$chunks
address=/mx.$DOMAIN/$ip
ptr-record=$(echo "$ip" | awk -F. '{print $4"."$3"."$2"."$1}').in-addr.arpa,mx.$DOMAIN
EOF
  cat >/etc/systemd/system/bench-dns.service <<EOF
[Unit]
Description=dnsmasq for the milter benchmark
[Service]
ExecStart=/usr/sbin/dnsmasq --keep-in-foreground --conf-file=/etc/bench/dnsmasq.conf --user=nobody
[Install]
WantedBy=multi-user.target
EOF
  systemctl daemon-reload
  systemctl enable --now bench-dns.service >/dev/null 2>&1
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >/etc/resolv.conf
  grep -q "mx.$DOMAIN" /etc/hosts || echo "$ip mx.$DOMAIN mx" >>/etc/hosts

  # Postfix: hop 1 is smtp-source -> 127.0.0.1:25 (a local sender: signed, not checked), routed
  # over SMTP to hop 2 on the container's own eth0 address (inbound: checked, not signed), whose
  # cleanup rewrites the recipient to the local user bench (Maildir).
  postconf -e "myhostname = mx.$DOMAIN" "mydestination = localhost, mx.$DOMAIN" "mynetworks = 127.0.0.0/8" \
    "relay_domains = $RELAY" "transport_maps = texthash:/etc/postfix/bench_transport" \
    "home_mailbox = Maildir/" "smtpd_milters =" "non_smtpd_milters =" "milter_default_action = tempfail" \
    "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination" \
    "inet_interfaces = loopback-only" "smtp_destination_concurrency_limit = 20" "smtpd_client_connection_count_limit = 0" \
    "policyd-spf_time_limit = 3600"
  echo "$RELAY smtp:[$ip]:25" >/etc/postfix/bench_transport
  echo "bench@$RELAY bench@localhost" >/etc/postfix/bench_virtual
  if ! grep -q '^cleanup_in ' /etc/postfix/master.cf; then
    cat >>/etc/postfix/master.cf <<EOF
$ip:25 inet n - y - - smtpd
  -o cleanup_service_name=cleanup_in -o myhostname=in.$DOMAIN
cleanup_in unix n - y - 0 cleanup
  -o virtual_alias_maps=texthash:/etc/postfix/bench_virtual
policyd-spf unix - n n - 0 spawn
  user=policyd-spf argv=/usr/bin/policyd-spf
EOF
    sed -i 's/^smtp      inet/127.0.0.1:25 inet/' /etc/postfix/master.cf
  fi

  # rspamd, mode rspamd (by hand): DKIM signing for $DOMAIN (local senders), DKIM/SPF/DMARC
  # checks for the rest, DMARC p=reject enforced, Authentication-Results added; no Redis,
  # modules that reach the network (RBLs, fuzzy, maps, ASN, ...) off. Kept under /etc/bench/hand
  # and copied into /etc/rspamd by use_mode (the role mode has its own set, /etc/bench/role).
  local d=/etc/bench/hand/etc/rspamd/local.d
  install -d $d
  cat >$d/options.inc <<EOF
dns { nameserver = ["127.0.0.1:53"]; timeout = 1s; retransmits = 1; }
local_addrs = "127.0.0.0/8, ::1";
EOF
  cat >$d/dkim_signing.conf <<EOF
enabled = true;
sign_local = true;
sign_authenticated = true;
use_domain = "envelope";
allow_username_mismatch = true;
domain { $DOMAIN { path = "/var/lib/rspamd/dkim/$DOMAIN.key"; selector = "$SELECTOR"; } }
EOF
  echo 'actions { reject = "reject"; quarantine = "add_header"; }' >$d/dmarc.conf
  echo 'use = ["authentication-results"];' >$d/milter_headers.conf
  local module
  for module in rbl surbl fuzzy_check asn emails phishing whitelist multimap hfilter once_received \
      rspamd_update url_redirector dcc mx_check replies spamassassin mime_types reputation \
      neural ratelimit greylist history_redis bimi known_senders; do
    echo 'enabled = false;' >$d/$module.conf
  done
  echo 'bind_socket = "127.0.0.1:11332";' >$d/worker-proxy.inc
  echo 'bind_socket = "127.0.0.1:11333";' >$d/worker-normal.inc
  echo 'bind_socket = "127.0.0.1:11334";' >$d/worker-controller.inc
  (cd /etc/bench/hand && find etc -type f | sed 's|^|/|') >/etc/bench/hand.list

  # OpenDKIM (sign for 127.0.0.1, verify the rest), OpenDMARC (reject on p=reject), policyd-spf.
  cat >/etc/opendkim.conf <<EOF
Syslog yes
Canonicalization relaxed/simple
OversignHeaders From
UserID opendkim
UMask 007
Socket inet:8891@127.0.0.1
PidFile /run/opendkim/opendkim.pid
Mode sv
Domain $DOMAIN
Selector $SELECTOR
KeyFile /etc/dkimkeys/$SELECTOR.private
InternalHosts 127.0.0.1
AuthservID mx.$DOMAIN
Nameservers $ip
EOF
  cat >/etc/opendmarc.conf <<EOF
PidFile /run/opendmarc/opendmarc.pid
PublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat
Socket inet:8893@127.0.0.1
Syslog true
UMask 0002
UserID opendmarc
AuthservID mx.$DOMAIN
TrustedAuthservIDs mx.$DOMAIN
IgnoreHosts /etc/opendmarc/ignore.hosts
RejectFailures true
SPFSelfValidate false
EOF
  install -d /etc/opendmarc
  echo 127.0.0.1 >/etc/opendmarc/ignore.hosts
  sed -i "s/^#\\?Header_Type.*/Header_Type = AR/; s/^#\\?Authserv_Id.*/Authserv_Id = mx.$DOMAIN/" /etc/postfix-policyd-spf-python/policyd-spf.conf
  grep -q '^Header_Type' /etc/postfix-policyd-spf-python/policyd-spf.conf || echo 'Header_Type = AR' >>/etc/postfix-policyd-spf-python/policyd-spf.conf
  grep -q '^Authserv_Id' /etc/postfix-policyd-spf-python/policyd-spf.conf || echo "Authserv_Id = mx.$DOMAIN" >>/etc/postfix-policyd-spf-python/policyd-spf.conf

  systemctl restart postfix
  use_mode none
}

role() {  # DIR: role_files.py's output (tree/, files.list, keys.list, main.cf)
  local dir=$1 src path mode owner group
  rm -rf /etc/bench/role
  cp -a "$dir/tree" /etc/bench/role
  cp "$dir/files.list" /etc/bench/role.list
  cp "$dir/main.cf" /etc/bench/role-main.cf
  while read -r src path mode owner group; do
    install -d -m 0750 -o root -g _rspamd "$(dirname "$path")"
    install -m "$mode" -o "$owner" -g "$group" "$src" "$path"
  done <"$dir/keys.list"
}

rspamd_config() {  # hand | role: /etc/rspamd with that mode's files and none of the other's
  local path
  cat /etc/bench/hand.list /etc/bench/role.list 2>/dev/null | while read -r path; do rm -f "$path"; done
  cp -a "/etc/bench/$1/." /
}

daemons_of() {
  case $1 in
    none) ;;
    rspamd|role) echo rspamd ;;
    opendkim) echo opendkim opendmarc ;;
  esac
}

use_mode() {
  local mode=$1 unit
  systemctl stop rspamd opendkim opendmarc 2>/dev/null || true
  # Postfix's defaults for what only the role mode sets (its main.cf contract).
  postconf -X non_smtpd_milters milter_protocol milter_mail_macros
  case $mode in
    none) postconf -e "smtpd_milters =" "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination" ;;
    rspamd) rspamd_config hand
      postconf -e "smtpd_milters = inet:127.0.0.1:11332" \
      "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination" ;;
    role) rspamd_config role
      local parameters=()
      mapfile -t parameters </etc/bench/role-main.cf
      postconf -e "${parameters[@]}" "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination" ;;
    opendkim) postconf -e "smtpd_milters = inet:127.0.0.1:8891, inet:127.0.0.1:8893" \
      "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service unix:private/policyd-spf" ;;
  esac
  for unit in $(daemons_of "$mode"); do systemctl start "$unit"; done
  wait_listening "$mode"
  postfix reload >/dev/null 2>&1
  sleep 1
}

wait_listening() {
  local port
  case $1 in rspamd|role) port=11332 ;; opendkim) port=8893 ;; *) return 0 ;; esac
  for _ in $(seq 1 240); do
    ss -ltn | grep -q "127.0.0.1:$port " && return 0
    sleep 0.5
  done
  echo "error: $1 is not listening on $port" >&2
  exit 1
}

empty_mailbox() { rm -rf "$MAILDIR"; }
delivered() { find "$MAILDIR/new" -type f 2>/dev/null | wc -l; }
queued() { find /var/spool/postfix/incoming /var/spool/postfix/active /var/spool/postfix/deferred -type f 2>/dev/null | wc -l; }

wait_delivered() {  # COUNT TIMEOUT_SECONDS: wait until COUNT messages are in the mailbox and the queue is empty
  local count=$1 deadline=$(( $(date +%s) + $2 ))
  while [ "$(delivered)" -lt "$count" ] || [ "$(queued)" -gt 0 ]; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}

send() {  # COUNT
  smtp-source -s 10 -m "$1" -l 4096 -f "$SENDER" -t "bench@$RELAY" 127.0.0.1:25
}

memory_of() {  # per daemon: processes, RSS summed over them, PSS (shared pages split among processes), in MiB
  local mode=$1 names name pids rss pss detail="" total_rss=0 total_pss=0
  case $mode in rspamd|role) names="rspamd" ;; opendkim) names="opendkim opendmarc policyd-spf" ;; *) echo "rss_mib=0 pss_mib=0"; return ;; esac
  for name in $names; do
    pids=$(ps -C "$name" -o pid= | tr -s ' \n' ' ')
    rss=$(ps -C "$name" -o rss= | awk '{s += $1} END {print int(s / 1024)}')
    # shellcheck disable=SC2086
    pss=$(for pid in $pids; do cat "/proc/$pid/smaps_rollup" 2>/dev/null; done | awk '/^Pss:/ {s += $2} END {print int(s / 1024)}')
    detail="$detail${detail:+,}$name:$(echo "$pids" | wc -w)p:$rss/$pss"
    total_rss=$((total_rss + rss)) total_pss=$((total_pss + pss))
  done
  echo "rss_mib=$total_rss pss_mib=$total_pss memory=$detail"
}

measure() {
  local mode=$1 count=$2 start accepted finished
  use_mode "$mode"
  postsuper -d ALL >/dev/null 2>&1
  empty_mailbox
  if ! send 20 || ! wait_delivered 20 120; then echo "error: warm-up of $mode did not deliver" >&2; exit 1; fi
  empty_mailbox
  start=$(date +%s.%N)
  send "$count"
  accepted=$(date +%s.%N)
  wait_delivered "$count" 600 || true
  finished=$(date +%s.%N)
  echo "RESULT mode=$mode count=$count delivered=$(delivered) queued=$(queued)" \
    "seconds=$(awk "BEGIN {print $finished - $start}") accept_seconds=$(awk "BEGIN {print $accepted - $start}") $(memory_of "$mode")"
}

headers() {
  use_mode "$1"
  empty_mailbox
  send 1
  wait_delivered 1 60
  local file
  file=$(find "$MAILDIR/new" -type f | head -1)
  grep -iE '^(DKIM-Signature|Authentication-Results|Received-SPF|X-Spam|\s+(dkim|spf|dmarc)=)' "$file" | cut -c1-160 | sed "s/^/HEADER $1: /"
}

down() {  # MODE ACTION
  local mode=$1 action=$2 unit output
  use_mode "$mode"
  postconf -e "milter_default_action = $action"
  postfix reload >/dev/null 2>&1
  for unit in $(daemons_of "$mode"); do systemctl stop "$unit"; done
  sleep 1
  empty_mailbox
  output=$(smtp-source -m 5 -f "$SENDER" -t "bench@$RELAY" 127.0.0.1:25 2>&1 || true)
  sleep 5
  echo "DOWN mode=$mode action=$action delivered=$(delivered) queued=$(queued)" \
    "source_says=$(echo "${output:-nothing, all accepted}" | sort | uniq -c | tr -s ' \n' ' ' | cut -c1-200)"
  if [ "$(queued)" -gt 0 ]; then
    for unit in $(daemons_of "$mode"); do systemctl start "$unit"; done
    wait_listening "$mode"
    postqueue -f
    wait_delivered 5 120 || true
    echo "DOWN mode=$mode action=$action after_restart delivered=$(delivered) queued=$(queued)"
  fi
  postconf -e "milter_default_action = tempfail"
  postsuper -d ALL >/dev/null 2>&1 || true
  use_mode "$mode"
}

forged() {  # MODE: a message claiming $FORGED straight to hop 2 (the inbound listener)
  local output
  use_mode "$1"
  output=$(smtp-source -m 1 -f "bench@$FORGED" -t "bench@$RELAY" "$(ip_address):25" 2>&1 || true)
  echo "FORGED mode=$1 source_says=${output:-accepted}"
}

versions() {
  dpkg-query -W -f='VERSION ${Package} ${Version}\n' postfix rspamd opendkim opendmarc postfix-policyd-spf-python 2>/dev/null
}

"$@"
