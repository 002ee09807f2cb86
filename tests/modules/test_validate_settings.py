"""postmaster.mail.validate_settings through ansible-playbook on the control node: a supplied
certificate about to expire gives a [WARNING] the user sees in the play's output (not a
debug line), an expired one fails in one line; the tls role refuses the expired one before
it writes anything."""

from __future__ import annotations

import datetime
import os
import subprocess

import yaml

from conftest import COLLECTIONS_DIR

UTC = datetime.timezone.utc


def make_pair(directory, days_left):
    """A self-signed certificate ending in `days_left` days, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.org")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=300))
                   .not_valid_after(now + datetime.timedelta(days=days_left)).sign(key, hashes.SHA256()))
    directory.mkdir()
    (directory / "server.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    return {"tls_ca_mode": "supplied", "tls_supplied_ca_certificate": str(directory / "server.crt"),
            "tls_supplied_server_certificate": str(directory / "server.crt"),
            "tls_supplied_server_key": str(directory / "server.key"),
            "tls_server_names": ["mail.example.org"], "tls_controller_dir": str(directory / "pki")}


def play(tmp_path, tasks, variables):
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "vars": variables,
                                         "tasks": tasks}]))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR),
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    return subprocess.run(["ansible-playbook", str(playbook)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


CHECK = [{"name": "Check", "postmaster.mail.validate_settings": {"role": "tls"}}]


def test_certificate_about_to_expire_warns_in_the_play_output(tmp_path):
    completed = play(tmp_path, CHECK, make_pair(tmp_path / "soon", 10))
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "[WARNING]: tls: tls_supplied_server_certificate %s/soon/server.crt expires on" % tmp_path in output, output
    assert "in 9 days (fewer than tls_warn_days, 30)" in output


def test_certificate_far_from_expiry_gives_no_warning(tmp_path):
    completed = play(tmp_path, CHECK, make_pair(tmp_path / "later", 200))
    assert completed.returncode == 0 and "expires on" not in completed.stdout + completed.stderr


def test_expired_certificate_stops_the_tls_role_before_it_writes(tmp_path):
    variables = make_pair(tmp_path / "old", -1)
    completed = play(tmp_path, [{"name": "Run the tls role",
                                 "ansible.builtin.include_role": {"name": "postmaster.mail.tls"}}], variables)
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    # The CA file is the same self-signed certificate here, checked first.
    assert ('"msg": "tls: tls_supplied_ca_certificate %s/old/server.crt expired on ' % tmp_path) in output, output
    assert not (tmp_path / "old" / "pki").exists()
