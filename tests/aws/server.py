"""moto's server with the Cloud Control API in front: a drop-in for `moto_server`.

    python tests/aws/server.py [-H HOST] [-p PORT] [-r] [-s | -c CERT -k KEY]

Same arguments and environment as `moto_server` (moto/server.py: MOTO_PORT,
INITIAL_NO_AUTH_ACTION_COUNT, MOTO_ACCOUNT_ID, ...). One process and one port serve both: requests
whose `X-Amz-Target` starts with `CloudApiService.` go to Cloud Control (cloudcontrol.py), which
carries them out on the very moto backends the rest of the port serves; everything else goes to
moto unchanged. Invariant: nothing moto answers is altered here; Cloud Control adds operations,
never state of its own beyond its request records. See cloudcontrol.py for the Cloud Control
semantics and the test knobs (CLOUDCONTROL_* variables, CloudApiService.TestControl).
"""

import argparse
import os
import signal
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloudcontrol  # noqa: E402


def parse_args(argv):
    """moto_server's own command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", type=str, default="127.0.0.1", help="Which host to bind")
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)),
                        help="Port number to use for connection")
    parser.add_argument("-r", "--reload", action="store_true", default=False,
                        help="Reload server on a file change")
    parser.add_argument("-s", "--ssl", action="store_true", default=False,
                        help="Enable SSL encrypted connection with auto-generated certificate")
    parser.add_argument("-c", "--ssl-cert", type=str, default=None, help="Path to SSL certificate")
    parser.add_argument("-k", "--ssl-key", type=str, default=None, help="Path to SSL private key")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: sys.exit(0))

    moto_app = DomainDispatcherApplication(create_backend_app)
    moto_app.debug = True
    app = cloudcontrol.middleware(moto_app)

    ssl_context = (args.ssl_cert, args.ssl_key) if args.ssl_cert and args.ssl_key else None
    ssl_context = ssl_context or ("adhoc" if args.ssl else None)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=args.reload,
               ssl_context=ssl_context)


if __name__ == "__main__":
    main()
