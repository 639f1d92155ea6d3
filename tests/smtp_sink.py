"""A local SMTP sink for the mail tests: a real SMTP server (aiosmtpd) that keeps what it receives.

Usage: python3 tests/smtp_sink.py PORT FOLDER [--tls starttls|tls --cert PEM --key PEM
       [--client-ca PEM]]   (exits on SIGTERM or when stdin closes)

Without --tls the sink speaks plain SMTP. `--tls starttls` offers STARTTLS and refuses mail
before it; `--tls tls` speaks TLS from the first byte (implicit TLS, "SMTPS"). --cert and --key
are the server's certificate (chain) and key; with --client-ca the client must present a
certificate issued by that CA.

Listens on 127.0.0.1:PORT and prints "ready" once it accepts connections. Each message received
is written as FOLDER/<n>.eml (the bytes as sent) and FOLDER/<n>.json (envelope and the parts the
tests check, decoded by Python's own e-mail parser: a second opinion on our MIME). The JSON file
is written last, under a temporary name then renamed, so a reader never sees half a message.
"""

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import logging
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller


class Keeper:
    """aiosmtpd handler: saves every message and accepts it."""

    def __init__(self, folder):
        self.folder = folder
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        raw = envelope.original_content or envelope.content
        with open(os.path.join(self.folder, f"{n:06}.eml"), "wb") as f:
            f.write(raw)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        tls = server.transport.get_extra_info("ssl_object")
        peer = tls.getpeercert() if tls is not None else None
        summary = {
            # Whether the message came over TLS, and the client certificate's subject if any.
            "tls": tls is not None,
            "client_cert_subject": dict(x[0] for x in peer["subject"]) if peer else None,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(message.get("From", "")),
            "to": str(message.get("To", "")),
            "subject": str(message.get("Subject", "")),
            "content_type": message.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        path = os.path.join(self.folder, f"{n:06}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(summary, f, ensure_ascii=False)
        os.replace(path + ".tmp", path)
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("folder")
    parser.add_argument("--tls", choices=("starttls", "tls"))
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca")
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    options = {}
    if args.tls:
        # Refused handshakes are what some tests are about: aiosmtpd would print a traceback
        # for each. The tests read what arrived instead.
        logging.getLogger("mail.log").setLevel(logging.CRITICAL)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            context.load_verify_locations(args.client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
        if args.tls == "tls":
            options["ssl_context"] = context
        else:
            options["tls_context"] = context
            options["require_starttls"] = True
    controller = Controller(Keeper(args.folder), hostname="127.0.0.1", port=args.port, **options)
    # start() returns once the server answers a probe connection.
    controller.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    # The harness holds our stdin open: when the test process dies, however abruptly, the pipe
    # closes and the sink goes too instead of lingering on its port.
    def watch_parent():
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_parent, daemon=True).start()
    try:
        loop.run_until_complete(stop.wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
