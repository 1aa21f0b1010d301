"""A real SMTP server for the email tests (aiosmtpd, Debian package python3-aiosmtpd).

Each message received is written to DIR as <n>.json: the envelope, the headers, the
decoded text and HTML parts, whether the session was under TLS and who logged in, so a
test can assert on what arrived. Options: --starttls CERT KEY (STARTTLS offered and
required), --smtps CERT KEY (TLS from the first byte), --auth USER:PASSWORD (AUTH
required, checked against that pair). The server runs until its standard input closes,
so it never outlives the test that started it.
"""

import argparse
import email
import email.policy
import json
import os
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Save:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        parts = {}
        for part in msg.walk():
            ctype = part.get_content_type()
            if ctype in ("text/plain", "text/html") and ctype not in parts:
                parts[ctype] = part.get_content()
        auth = session.auth_data if session.authenticated else None
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {k: str(v) for k, v in msg.items()},
            "text": parts.get("text/plain"),
            "html": parts.get("text/html"),
            # STARTTLS sets session.ssl; TLS from the first byte shows on the transport.
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "auth": auth,
            "helo": session.host_name,
        }
        with self.lock:
            self.count += 1
            name = os.path.join(self.directory, "%04d.json" % self.count)
        with open(name + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name)
        return "250 OK"


def context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--smtps", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth")
    a = p.parse_args()

    kwargs = {}
    if a.starttls:
        kwargs["tls_context"] = context(*a.starttls)
        kwargs["require_starttls"] = True
    if a.smtps:
        kwargs["ssl_context"] = context(*a.smtps)
    if a.auth:
        user, password = a.auth.split(":", 1)

        def check(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            # handled=False: the server answers 535 itself (the default, True, would
            # leave the client waiting for an answer that never comes).
            return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

        kwargs["authenticator"] = check
        kwargs["auth_required"] = True
        # AUTH only after TLS, unless the test runs without TLS on purpose.
        kwargs["auth_require_tls"] = bool(a.starttls or a.smtps)

    ctl = Controller(Save(a.dir), hostname="127.0.0.1", port=a.port, **kwargs)
    ctl.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.read()
    ctl.stop()


if __name__ == "__main__":
    main()
