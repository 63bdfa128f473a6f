"""The `prmonitor` command: migrate, serve, poll, start, stop, show, diagnose."""

import argparse
import importlib.metadata
import logging
import os
import subprocess
import sys

from peewee import DatabaseError, InterfaceError, OperationalError

from prmonitor import checkout, configure_logging, diagnose_cmd, metrics, show
from prmonitor.config import Config, ConfigError, port_number
from prmonitor.github import GitHubError
from prmonitor.poll import Poller, worker
from prmonitor.storage import db, queries
from prmonitor.web.params import BadRequest, positive_int, repo_name

log = logging.getLogger(__name__)


class CommandError(Exception):
    """A failure to report as one line on stderr, with exit status 1."""


def main(argv=None):
    """Run one command; its exit status (0, 1 with one line on stderr, 2 for usage)."""
    args = _parser().parse_args(argv)
    try:
        config = Config.from_env()
        configure_logging(config.log_level)
        return args.command(config, args) or 0
    except (ConfigError, CommandError, db.MigrationsMissing, GitHubError) as exc:
        print(f"prmonitor: {exc}", file=sys.stderr)
        return 1
    except (DatabaseError, InterfaceError) as exc:
        print(
            f"prmonitor: database error ({db.describe(exc)}); check DATABASE_URL and run "
            "`prmonitor migrate`",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `prmonitor show | head -3`: the reader has all it wanted. Python would report the
        # pipe again when it flushes stdout at exit; point stdout at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _parser():
    parser = argparse.ArgumentParser(prog="prmonitor", description=__doc__)
    parser.add_argument("--version", action="version", version=f"prmonitor {_version()}")
    commands = parser.add_subparsers(required=True, metavar="command")
    for name in ("migrate", "init"):
        sub = commands.add_parser(name, help="create or upgrade the database schema")
        sub.set_defaults(command=cmd_migrate)
    serve = commands.add_parser("serve", help="webhooks, REST API and dashboard on HOST:PORT")
    serve.add_argument("--host")
    serve.add_argument("--port", type=port_arg)
    serve.set_defaults(command=cmd_serve)
    poll = commands.add_parser(
        "poll", help="reconcile tracked PRs with GitHub every CHECK_INTERVAL"
    )
    poll.add_argument("--once", action="store_true", help="run one cycle and exit")
    poll.set_defaults(command=cmd_poll)
    for name, command, text in (
        ("start", cmd_start, "track a pull request and reconcile it now"),
        ("stop", cmd_stop, "stop tracking a pull request (its data stays)"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("pr", type=pr_number, help="PR number")
        sub.add_argument("--repo", type=repo_arg, help="owner/name (default: the origin remote's)")
        sub.set_defaults(command=command)
    show = commands.add_parser("show", help="a pull request's workflows, jobs and failures")
    show.add_argument(
        "pr", nargs="?", type=pr_number, help="PR number (default: the current branch's)"
    )
    show.add_argument(
        "--repo", type=repo_arg, help="owner/name, when the number exists in several repositories"
    )
    show.set_defaults(command=cmd_show)
    diagnose_cmd.add_parser(commands)
    return parser


def pr_number(raw):
    """argparse type: a pull request number."""
    try:
        return positive_int(raw, "a pull request number")
    except BadRequest as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def port_arg(raw):
    """argparse type: a TCP port from 1 to 65535."""
    port = port_number(raw)
    if port is None:
        raise argparse.ArgumentTypeError("a port is a number from 1 to 65535")
    return port


def repo_arg(raw):
    """argparse type: owner/name."""
    try:
        return repo_name(raw)
    except BadRequest as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _version():
    try:
        return importlib.metadata.version("prmonitor")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _connect(config, existing=False):
    """The bound, connected database. `existing`: for commands that only use a database
    `prmonitor migrate` made, a SQLite file that is not there is not created."""
    if existing:
        _require_database_file(config.database_url)
    try:
        database = db.bind(config.database_url)
        database.connect(reuse_if_open=True)
    except (OperationalError, InterfaceError, OSError) as exc:
        reason = db.describe_connection_error(exc)
        raise CommandError(f"cannot open DATABASE_URL: {reason}") from None
    return database


def _require_database_file(url):
    path = db.sqlite_path(url)
    if path is not None and path != ":memory:" and not os.path.exists(path):
        raise CommandError(f"no database at {path}: run `prmonitor migrate` first")


# -- migrate ---------------------------------------------------------------------------------


def cmd_migrate(config, args):
    """`prmonitor migrate`: create or upgrade the schema."""
    _connect(config)
    applied = db.migrate()
    print(f"applied {', '.join(applied)}" if applied else "schema is up to date")


# -- serve -----------------------------------------------------------------------------------


def cmd_serve(config, args):
    """`prmonitor serve`: migrate, then the web server under gunicorn and the poller beside it."""
    from prmonitor.server import serve

    host = args.host or config.host
    port = config.port if args.port is None else args.port
    database = _connect(config)
    db.migrate()
    # No connection may cross gunicorn's fork: SQLite's locks would be shared by the workers.
    database.close()
    database.close_all()
    metrics.use_multiprocess_dir()  # the poller beside the workers is scraped with them
    poller = _start_poller() if config.can_poll else None
    try:
        serve(host, port)
    finally:
        if poller is not None:
            _stop_process(poller)


def _start_poller():
    """`prmonitor poll` as a process of its own: periodic work never runs in a web worker."""
    return subprocess.Popen([sys.executable, "-m", "prmonitor.cli", "poll"])


def _stop_process(process, timeout=15):
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- poll, start, stop -----------------------------------------------------------------------


def _require_credentials(config):
    if not config.can_poll:
        raise CommandError(
            "polling needs GitHub credentials: set APP_ID with PRIVATE_KEY (or PRIVATE_KEY_PATH), "
            "or GITHUB_TOKEN"
        )


def cmd_poll(config, args):
    """`prmonitor poll [--once]`: the reconciliation loop, or one cycle."""
    if args.once:
        _require_credentials(config)
        return _poll_once(config, Poller.from_config(config))
    stop = worker.stop_on_signals()
    _connect(config).close()
    if not config.can_poll:
        worker.idle_until_configured(stop, config.delivery_retention_days)
        return 0
    worker.run(config, Poller.from_config(config, stop=stop), stop)
    return 0


def _poll_once(config, poller):
    _connect(config).close()
    try:
        report = poller.run_once()
    finally:
        poller.release()
    worker.diagnose_due(config)
    print(_report_line(report))
    if report and report["errors"] and not report["repos"]:
        raise CommandError(
            f"no repository could be reconciled ({report['errors']} failed): see the log "
            "above; check GITHUB_TOKEN or the App's credentials and GITHUB_API_URL"
        )
    return 0


def _report_line(report):
    if report is None:
        return "another poller holds the lease: no cycle ran"
    return " ".join(f"{key}={value}" for key, value in report.items())


def cmd_start(config, args):
    """`prmonitor start <pr>`: track a PR by hand and reconcile it now."""
    from prmonitor.github import GitHub
    from prmonitor.poll import EtagStore, Reconciler, Target, installation_for

    _require_credentials(config)
    full_name = args.repo or _origin_repo()
    _connect(config, existing=True)
    github = GitHub.from_config(config, etags=EtagStore())
    installation = installation_for(github, full_name) if github.is_app else None
    if github.is_app and installation is None:
        raise CommandError(f"the App is not installed on {full_name}: install it there first")
    repo = github.get(f"repos/{full_name}", installation=installation, conditional=False).body
    target = Target(repo["full_name"], repo["id"], installation, discover=False)
    Reconciler(github).reconcile_pr(target, args.pr)
    show.print_pr(queries.resolve_pr(args.pr, target.full_name))


def cmd_stop(config, args):
    """`prmonitor stop <pr>`: stop polling a PR; its rows stay."""
    from prmonitor.poll import tracking

    full_name = args.repo or _origin_repo()
    _connect(config, existing=True)
    try:
        pr = queries.resolve_pr(args.pr, full_name)
    except queries.NotFound:
        raise CommandError(f"{full_name}#{args.pr} is not tracked") from None
    tracking.stop_tracking(pr_id=pr.id)
    print(f"{full_name}#{args.pr}: no longer tracked (its data stays)")


def _origin_repo():
    try:
        return checkout.origin_repo()
    except checkout.NotAGitHubCheckout as exc:
        raise CommandError(str(exc)) from None


# -- show ------------------------------------------------------------------------------------


def cmd_show(config, args):
    """`prmonitor show [<pr>]`: print a PR's runs, jobs and failures."""
    _connect(config, existing=True)
    number = args.pr or _current_branch_pr(args.repo)
    try:
        pr = queries.resolve_pr(number, args.repo)
    except queries.Ambiguous as exc:
        raise CommandError(f"#{number} exists in {', '.join(exc.repos)}: add --repo") from None
    except queries.NotFound as exc:
        raise CommandError(f"{exc}; is the App installed on its repository?") from None
    show.print_pr(pr)


def _current_branch_pr(repo):
    branch = checkout.current_branch()
    if not branch:
        raise CommandError("not on a git branch: give a PR number")
    number = queries.pr_number_of_branch(branch, repo)
    if number is None:
        raise CommandError(f"no tracked pull request has head branch {branch}: give a PR number")
    return number


if __name__ == "__main__":
    sys.exit(main())
