"""`opgate certs`: make the CA and serving certificate, and inject the CA bundle."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from certs import authority, files, inject
from certs import errors as cert_errors
from webhooks import errors


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `certs generate` and `certs inject-ca`."""
    parser = subparsers.add_parser(
        "certs",
        help="generate webhook TLS certificates; inject the CA bundle",
        description="Certificates for the webhook Service (for clusters without cert-manager).",
    )
    sub = parser.add_subparsers(dest="certs_command", metavar="ACTION", required=True)

    gen = sub.add_parser(
        "generate",
        help="write ca.crt, tls.crt, tls.key (ECDSA P-256)",
        description=(
            "Make a CA and an ECDSA P-256 serving certificate for the Service's DNS names "
            "(NAME, NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local) and write ca.crt, tls.crt "
            "and tls.key (mode 0600) into DIR: the layout of a kubernetes.io/tls Secret."
        ),
    )
    gen.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    gen.add_argument(
        "--service", default="opgate-webhook", help="Service name (default: %(default)s)"
    )
    gen.add_argument(
        "--namespace", default="vworkspace-system", help="Service namespace (default: %(default)s)"
    )
    gen.add_argument(
        "--days",
        type=int,
        default=authority.DEFAULT_DAYS,
        help="serving certificate lifetime in days (default: %(default)s; the CA lives 10x longer)",
    )
    gen.add_argument(
        "--localhost",
        action="store_true",
        help="also valid for localhost and 127.0.0.1 (local runs and tests)",
    )
    gen.add_argument(
        "--ca-key",
        action="store_true",
        help="also write ca.key (0600), to re-issue serving certificates later with --reuse-ca",
    )
    gen.add_argument(
        "--reuse-ca",
        action="store_true",
        help="sign with the ca.crt/ca.key already in DIR (rotation keeps the caBundle valid)",
    )
    gen.set_defaults(func=run_generate)

    inj = sub.add_parser(
        "inject-ca",
        help="patch caBundle into the webhook configurations",
        description=(
            "Set clientConfig.caBundle of every webhook in the named "
            "ValidatingWebhookConfiguration/MutatingWebhookConfiguration."
        ),
    )
    inj.add_argument("--ca-file", required=True, type=Path, help="PEM CA certificate (ca.crt)")
    inj.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster or ~/.kube/config)")
    inj.add_argument("--context", help="kubeconfig context")
    inj.add_argument(
        "--name",
        action="append",
        help="webhook configuration name, repeatable (default: opgate)",
    )
    inj.set_defaults(func=run_inject)


def run_generate(args: argparse.Namespace) -> int:
    """Write the certificate files; prints what was written."""
    if args.days < 1:
        raise errors.UsageError(f"--days must be at least 1, got {args.days}")
    try:
        if args.reuse_ca:
            ca_cert, ca_key = files.read_ca(args.out)
            names = authority.dns_names(args.service, args.namespace, localhost=args.localhost)
            ips = ["127.0.0.1"] if args.localhost else []
            cert, key = authority.make_serving(ca_cert, ca_key, names, days=args.days, ips=ips)
            bundle = authority.reissued(ca_cert, ca_key, cert, key)
        else:
            bundle = authority.generate(
                args.service, args.namespace, days=args.days, localhost=args.localhost
            )
        written = files.write(args.out, bundle, ca_key=args.ca_key and not args.reuse_ca)
        stale = args.out / "ca.key"
        if not args.reuse_ca and not args.ca_key and stale.exists():
            stale.unlink()  # it signed the CA just replaced: --reuse-ca must not sign with it
            print(f"removed {stale} (the key of the replaced CA)", file=sys.stderr)
    except cert_errors.CertError as exc:
        raise errors.UsageError(str(exc)) from None
    except OSError as exc:
        raise errors.UsageError(f"cannot write {args.out}: {exc.strerror}") from None
    for path in written:
        print(path)
    return 0


def run_inject(args: argparse.Namespace) -> int:
    """Patch the CA bundle; prints each configuration touched."""
    from webhooks import cache

    try:
        pem = args.ca_file.read_bytes()
    except OSError as exc:
        raise errors.UsageError(f"cannot read --ca-file {args.ca_file}: {exc.strerror}") from None
    api = cache.connect(args.kubeconfig, context=args.context)
    try:
        results = inject.inject(api, args.name or ["opgate"], pem)
    except cert_errors.CertError as exc:
        print(f"opgate certs inject-ca: error: {exc}", file=sys.stderr)
        return 1
    finally:
        api.close()
    for item in results:
        state = "patched" if item.changed else "unchanged"
        print(f"{item.kind}/{item.name}: {state} ({len(item.webhooks)} webhooks)")
    return 0
