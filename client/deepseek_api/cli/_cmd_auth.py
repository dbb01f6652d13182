"""``deepseek login``, ``logout`` and ``profiles``: the credentials in the config file."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

import deepseek_api as ds
from deepseek_api.cli import _format
from deepseek_api.cli._context import Context, connect
from deepseek_api.cli._exit import CliError, ExitCode, Situation, from_api_error
from deepseek_api.cli._parsing import Commands, add_command
from deepseek_api.cli._profiles import Profile


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``login``, ``logout`` and ``profiles``."""
    login = add_command(
        commands,
        "login",
        common,
        "check API client credentials and save them in a profile",
        "Check the credentials against the gateway (by getting an access token with them),\n"
        "then save them in the profile (--profile, $DEEPSEEK_PROFILE, else 'default') of the\n"
        "config file, which only you can read. Nothing is saved if they are refused.\n\n"
        "The secret is prompted for without echo, or read from standard input:\n"
        "  deepseek login --endpoint https://api.deepseek.supercomp.cn --client-id md_sim\n"
        "  pass show deepseek | deepseek login --profile prod --endpoint URL \\\n"
        "      --client-id md_sim --client-secret-stdin",
    )
    login.add_argument("--client-id", help="the API client's id (default: the profile's)")
    login.add_argument(
        "--client-secret-stdin",
        action="store_true",
        help="read the secret from the first line of standard input instead of prompting",
    )
    login.add_argument(
        "--ca-file", help="PEM file of the CA roots that verify the gateway's TLS certificate"
    )
    login.set_defaults(handler=login_command)

    logout = add_command(
        commands,
        "logout",
        common,
        "delete a profile and its credentials",
        "Delete the profile (--profile, $DEEPSEEK_PROFILE, else 'default') from the config file.",
    )
    logout.set_defaults(handler=logout_command)

    profiles = add_command(
        commands,
        "profiles",
        common,
        "list the saved profiles (without secrets)",
        "List the profiles of the config file; '*' marks the one in use.",
    )
    profiles.set_defaults(handler=profiles_command)


def login_command(args: argparse.Namespace, ctx: Context) -> int:
    """Verify the credentials, then save them."""
    store = ctx.store
    name = ctx.profile_name
    profiles = store.load()
    existing = profiles.get(name)
    endpoint = ctx.settings.endpoint or (existing.endpoint if existing else None)
    client_id = args.client_id or (existing.client_id if existing else None)
    if endpoint is None:
        raise CliError(
            f"profile {name!r} has no endpoint yet — pass --endpoint URL", ExitCode.USAGE
        )
    if not client_id:
        raise CliError(
            f"profile {name!r} has no client id yet — pass --client-id ID", ExitCode.USAGE
        )
    secret = _read_secret(args, ctx)
    # Absolute, so that the profile works from any directory.
    ca_file = str(Path(args.ca_file).resolve()) if args.ca_file else None
    ca_file = ca_file or (existing.ca_file if existing else None)
    profile = Profile(endpoint, client_id, secret, ca_file)
    _verify(profile, ctx, name)
    store.save({**profiles, name: profile})
    if ctx.out.json:
        ctx.out.document({"profile": name, "endpoint": endpoint, "client_id": client_id})
    else:
        ctx.out.line(f"Logged in to {endpoint} as {client_id}; saved as profile {name!r}.")
        ctx.out.note(f"Credentials are in {store.path} (mode 0600).")
    return ExitCode.OK


def logout_command(args: argparse.Namespace, ctx: Context) -> int:
    """Remove the profile."""
    store = ctx.store
    name = ctx.profile_name
    profiles = store.load()
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise CliError(f"no profile {name!r} (profiles: {known})", ExitCode.NOT_FOUND)
    del profiles[name]
    store.save(profiles)
    if ctx.out.json:
        ctx.out.document({"profile": name, "deleted": True})
    else:
        ctx.out.line(f"Deleted profile {name!r}.")
    return ExitCode.OK


def profiles_command(args: argparse.Namespace, ctx: Context) -> int:
    """List profiles without their secrets."""
    profiles = ctx.store.load()
    current = ctx.profile_name
    if ctx.out.json:
        ctx.out.document(
            [
                {
                    "name": name,
                    "endpoint": profile.endpoint,
                    "client_id": profile.client_id,
                    "ca_file": profile.ca_file,
                    "current": name == current,
                }
                for name, profile in sorted(profiles.items())
            ]
        )
        return ExitCode.OK
    if not profiles:
        ctx.out.note("No profiles yet — run `deepseek login --endpoint URL --client-id ID`.")
        return ExitCode.OK
    rows = [
        [
            ("* " if name == current else "  ") + name,
            profile.endpoint,
            _format.optional(profile.client_id),
        ]
        for name, profile in sorted(profiles.items())
    ]
    ctx.out.line(_format.table(["  PROFILE", "ENDPOINT", "CLIENT ID"], rows))
    return ExitCode.OK


def _read_secret(args: argparse.Namespace, ctx: Context) -> str:
    if args.client_secret_stdin:
        secret = ctx.stdin.readline().rstrip("\r\n")
    elif _isatty(ctx):
        secret = getpass.getpass("Client secret: ")
    else:
        raise CliError(
            "no terminal to prompt for the client secret — pipe it in with --client-secret-stdin",
            ExitCode.USAGE,
        )
    if not secret:
        raise CliError("the client secret is empty — give the API client's secret", ExitCode.USAGE)
    return secret


def _isatty(ctx: Context) -> bool:
    try:
        return ctx.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _verify(profile: Profile, ctx: Context, name: str) -> None:
    situation = Situation(profile.endpoint, name)
    try:
        # Every call first gets an access token with the credentials: this proves them.
        with connect(profile, ctx.settings.timeout) as client:
            client.check_health()
    except ds.Unauthenticated as err:
        raise CliError(
            f"the gateway refused the credentials of client {profile.client_id!r} ({err.message}) "
            "— check the client id and secret; nothing was saved",
            ExitCode.NOT_ALLOWED,
        ) from err
    except ds.APIException as err:
        failure = from_api_error(err, situation)
        raise CliError(
            failure.message + "; nothing was saved", failure.code, failure.details
        ) from err
