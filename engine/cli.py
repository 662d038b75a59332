"""The `tracecode` command.

    tracecode init DIR [--base-url URL]
    tracecode settings DIR [--base-url URL]
    tracecode schemes [--data DIR] [--show NAME]
    tracecode issue DIR --scheme NAME --product FIELD=VALUE... --count N [--render R] [--out FILE]
    tracecode check (--scheme NAME | --system NAME) [--data DIR] [CODE...]
    tracecode scan [--data DIR] [SCAN...]
    tracecode verify DIR [SCAN...] [--scanner ID] [--place P]
    tracecode events DIR [FILE.jsonl] [--atomic]
    tracecode history DIR CODE [--epcis]
    tracecode import DIR FILE [--field NAME=VALUE...]
    tracecode batches DIR
    tracecode backup DIR DEST [--with-key]
    tracecode restore BACKUP DIR [--journal FILE]... [--key FILE] [--pkcs11-module PATH]
    tracecode restore BACKUP DIR --pgdata PATH --wal-archive DIR [--to-time T] [--high-water FILE]...
    tracecode label [CODE...] --symbol datamatrix|qr|gs1-128|code128 (--out FILE | --dir DIR | --sheet FILE)
    tracecode serve DIR [--listen HOST:PORT] [--http HOST:PORT [--http-only]] [--workers N] [--tls-cert F --tls-key F]
    tracecode token add|list|revoke FILE ...
    tracecode issue|verify|events|history --server HOST:PORT [--token T] ... (no DIR)
    tracecode registry import DIR FILE [--kind vet|pesticide] [--format csv|json] [--codes]
    tracecode registry show DIR NUMBER    (or --server HOST:PORT NUMBER)
    tracecode links DIR KEY [--json | --set FILE | --add TYPE HREF [--lang L] [--default] | --remove TYPE]
    tracecode epcis capture DIR FILE|- [--proceed] | epcis query DIR [--epc E] [--type T] ... [--json]
    tracecode cluster up DIR [--shards N] [--replicas R] | cluster down DIR | cluster status DIR
    tracecode capacity [--workload FILE] [--codes-per-year N] [--peak-scans-per-second N] ... [--quick | --reuse F]

Errors are one line on stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import argparse
import itertools
import os
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import __version__, checks, textinput
from . import schemes as _schemes
from .datadir import DataDir
from .errors import TracecodeError
from .store.lmdb.env import StoreFailure
from .capacity.cli import add_parser as add_capacity_parser
from .labels.cli import add_parser as add_label_parser
from .v1 import cli as remote
from .registry.cli import add_parser as add_registry_parser
from .links_cli import add_parser as add_links_parser
from .epcis_cli import add_parser as add_epcis_parser
from .assets_cli import add_parsers as add_asset_parsers
from .licence_cli import add_parser as add_licence_parser
from .quota_cli import add_parsers as add_quota_parsers
from .audit_cli import add_parser as add_audit_parser
from .privacy_cli import add_parser as add_privacy_parser
from .keys_cli import add_parser as add_key_parser
from .cluster_cli import add_parser as add_cluster_parser
from .export_cli import add_parser as add_export_parser
from .analyze_cli import add_parsers as add_analyze_parsers
from .serve.cli import add_serve_parser

PROGRESS_MIN = 1_000_000  # show a progress bar on a terminal from this many codes
MAX_CODE = 4096          # longer "codes" on stdin are refused, as the scan parser refuses them
MAX_IMPORT_LINE = 1 << 16
STDIN_CHUNK = 1 << 20    # stdin is read this much at a time (check, scan, verify)
MAX_STDIN_ITEM = 64 << 20  # a line or token past this without its end ends stdin (/dev/zero)
_CONTROL = re.compile(r"[\x00-\x1f]")


class CliError(TracecodeError):
    """A usage error found after parsing: printed as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other error (usage is in --help)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {_one_line(message)} (see {self.prog} --help)\n")


def _pairs(items, what):
    out = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"{what} {item!r} must look like NAME=VALUE")
        out[name.strip()] = value
    return out


def _product(fields, items) -> dict:
    """--product values by the scheme's product field names: a lone VALUE is fine when
    the scheme has a single product field."""
    if items and len(items) == 1 and "=" not in items[0] and len(fields) == 1:
        return {fields[0]: items[0]}
    return _pairs(items, "--product")


def _data(args):
    if args.dir is None:
        raise CliError("give a data directory DIR, or --server HOST:PORT")
    return args.dir


def _progress_bar(total):
    if total < PROGRESS_MIN or not sys.stderr.isatty():
        return None
    t0 = time.perf_counter()

    def show(done):
        width = 30
        filled = width * done // total
        rate = done / max(time.perf_counter() - t0, 1e-9)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * done // total:3d}% "
                         f"{done:,}/{total:,} codes, {rate / 1e6:.1f} M/s")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show


# -- commands --------------------------------------------------------------------------

STORE_VAR = "TRACECODE_STORE"   # datadir.STORE_VAR: the --store override, inherited by workers


def redact_url(url: str) -> str:
    from urllib.parse import urlsplit
    u = urlsplit(url)
    return url if u.password is None else url.replace(":" + u.password + "@", ":***@", 1)


def store_url(url: str) -> str:
    """--store's argparse type: the check init's settings make (a postgresql:// URL), at parse time."""
    from .settings import Settings, SettingsError
    try:
        Settings(store=url)
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return url


def cmd_init(args):
    dd = DataDir.init(args.dir, base_url=args.base_url, crypto=args.crypto,
                      store=args.store or os.environ.get(STORE_VAR))
    dd.close()
    print(f"initialised {args.dir}: cipher suite {dd.keyring.suite.name}, "
          f"master key {dd.master_key.fingerprint()} (fingerprint), "
          f"schemes in {Path(args.dir) / 'schemes'}, index in "
          f"{redact_url(dd.store_url) if dd.store_url else Path(args.dir) / 'index'}"
          + (f", public base URL {dd.settings.base_url}" if dd.settings.base_url else ""),
          file=sys.stderr)


def cmd_settings(args):
    """Show the data directory's settings, or change them (written atomically)."""
    from . import settings as _settings
    if not Path(args.dir).is_dir():
        raise CliError(f"{args.dir} is not a data directory")
    from .keys import load_master_key
    load_master_key(Path(args.dir))  # a data directory (its key), whatever its settings say now
    if args.base_url is not None:
        try:
            current = _settings.load(args.dir)
        except _settings.SettingsError:   # a broken file is replaced by a good one
            current = _settings.Settings()
        new = current.changed(base_url=args.base_url or None)
        _settings.save(args.dir, new)
        print(f"{args.dir}: base URL {new.base_url or 'not set (Digital Link URIs on id.gs1.org)'}; "
              "a running `tracecode serve` uses it once restarted", file=sys.stderr)
        return
    current = _settings.load(args.dir)
    base = current.base_url
    print(f"base_url = {base}" if base else
          f"base_url not set (issued Digital Link URIs point at {_settings.GS1_RESOLVER})")
    for name, value in current.web.items():   # the HTTP face's [web] table, as written
        print(f"web.{name} = {value!r}")


def _available(data):
    return DataDir(data).schemes if data else _schemes.builtin()


def cmd_schemes(args):
    pool = _available(args.data)
    if args.show:
        sch = _schemes.get(args.show, pool)
        sys.stdout.write(Path(sch.source).read_text())
        return
    for name in sorted(pool):
        sch = pool[name]
        layout = " + ".join(f"{f.name}({f.length})" for f in sch.code_fields)
        print(f"{name:18} {sch.length:3} chars  {layout}")
        print(f"{'':18} {sch.title}; renders: {', '.join(sch.renders)}; "
              f"{sch.capacity:,} codes per product")


def _backend(args):
    """Where a verb runs: a server (--server: tracecode.v1.Client) or the data directory
    itself (tracecode.app.LocalClient); both have the same verbs and arguments."""
    if args.server:
        return remote.client(args)
    from .app.local import LocalClient
    return LocalClient(DataDir(_data(args)))


def _scans(args) -> list:
    """The scans of a verb: its positionals (without DIR when --server), or stdin lines."""
    scans = remote.positionals(args, "scans") if args.server else list(args.scans)
    return scans or [line for line in _stdin_items(lines=True) if line.strip()]


def _stdin_items(lines: bool) -> list[bytes]:
    """Standard input's lines (or whitespace-separated tokens), read STDIN_CHUNK at a time
    rather than all at once. Of an item over MAX_CODE bytes only its first MAX_CODE + 1
    are kept (it is refused as too long, alone); one going on past MAX_STDIN_ITEM bytes
    without its end stops the input with one clear error (endless input like /dev/zero)."""
    src = getattr(sys.stdin, "buffer", sys.stdin)
    out: list[bytes] = []
    tail, dropped = b"", 0        # dropped: bytes of the current item past what is kept
    while True:
        chunk = src.read(STDIN_CHUNK)
        if not chunk:
            break
        data = tail + chunk
        parts = data.split(b"\n") if lines else data.split()
        # the last part may go on in the next chunk (a token: unless whitespace ended it)
        tail = parts.pop() if parts and (lines or not data[-1:].isspace()) else b""
        if parts or not tail:     # the item that was going on has ended
            dropped = 0
        out += parts
        if len(tail) > MAX_CODE + 1:
            dropped += len(tail) - MAX_CODE - 1
            tail = tail[:MAX_CODE + 1]
            if dropped > MAX_STDIN_ITEM:
                raise textinput.InputError(
                    f"standard input: {'line' if lines else 'token'} {len(out) + 1:,} goes on "
                    f"past {MAX_STDIN_ITEM:,} bytes without its end: no "
                    f"{'scan' if lines else 'code'}")
    if tail:
        out.append(tail)
    return out


def cmd_issue(args):
    if args.count < 1:
        raise CliError("--count must be at least 1")
    attributes = _pairs(args.attr, "--attr")
    if args.server and args.dir is not None:
        raise remote.RemoteUsageError(f"give DIR or --server, not both (DIR was {args.dir!r})")
    if args.server and args.requester:
        raise remote.RemoteUsageError("--requester is recorded by the server: the client's name")
    with _backend(args) as c:
        schemes = {s.name: s for s in c.schemes()}
        scheme = schemes.get(args.scheme)
        if scheme is None:
            raise remote.RemoteUsageError(
                f"unknown scheme {args.scheme!r}{' on the server' if args.server else ''}; "
                f"known: {', '.join(sorted(schemes))}")
        fields = [f.name for f in scheme.fields if f.role == "product"]
        product = _product(fields, args.product)
        extra = {"requester": args.requester} if args.requester else {}
        out = None
        if args.out:   # opened before anything is reserved: a bad path issues nothing
            try:
                out = open(args.out, "wb")  # noqa: SIM115 - closed below, whatever happens
            except OSError as exc:
                raise textinput.InputError(f"cannot write {args.out}: {exc.strerror}; nothing "
                                           "was issued") from None
        try:
            t0 = time.perf_counter()
            dl = c.request_codes(scheme.name, product, args.count, render=args.render,
                                 lot=args.lot, expiry=args.expiry, line=args.line,
                                 attributes=attributes, **extra)
            try:
                if out is not None:
                    dl.write(out, progress=_progress_bar(args.count))
                    out.close()
                else:
                    dl.write(sys.stdout.buffer)
                    sys.stdout.flush()
            except BrokenPipeError:
                raise
            except OSError as exc:   # e.g. a full disk: the batch stands, its codes can be had again
                raise textinput.InputError(
                    f"batch {dl.batch.id} ({dl.batch.count:,} codes) was issued, but writing its "
                    f"codes to {args.out or 'standard output'} failed ({exc.strerror}); they are "
                    f"the same when batch {dl.batch.id} is downloaded again") from None
        finally:
            if out is not None and not out.closed:
                try:
                    out.close()
                except OSError:
                    pass
        dt = time.perf_counter() - t0
    b = dl.batch
    print(f"issued {b.count:,} {b.scheme} codes for "
          f"{', '.join(f'{k}={v}' for k, v in b.product.items())} "
          f"(counters {b.start:,}..{b.start + b.count - 1:,}) in {dt:.2f} s", file=sys.stderr)


def _read_codes(args, validator) -> list[bytes]:
    if args.codes:  # a few typed codes: normalise them like validate() would
        return [validator.compact(c).encode("utf-8", "replace") for c in args.codes]
    # Bulk from stdin, in bounded chunks: split in C, no per-code Python.
    return _stdin_items(lines=False)


def cmd_check(args):
    if (args.scheme is None) == (args.system is None):
        raise CliError("give exactly one of --scheme or --system")
    if args.system:
        validator = checks.get(args.system)
    else:
        validator = _schemes.get(args.scheme, _available(args.data))
    codes = _read_codes(args, validator)
    if not codes:
        raise textinput.InputError("no codes: give them as arguments or on standard input")
    # One huge token must not widen the whole array (n codes x its length): it is refused alone.
    long = {i: c for i, c in enumerate(codes) if len(c) > MAX_CODE} \
        if max(map(len, codes)) > MAX_CODE else {}
    for i in long:
        codes[i] = b""
    arr = np.array(codes, dtype="S")
    ok = validator.validate_many(arr)
    ok[list(long)] = False

    def shown(i):
        if i in long:
            return long[i][:40].decode("utf-8", "replace") + "..."
        return args.codes[i] if args.codes else codes[i].decode("utf-8", "replace")

    bad = np.flatnonzero(~ok)
    for i in bad.tolist():  # only the failures get a Python-level explanation
        try:
            if i in long:
                raise ValueError(f"longer than {MAX_CODE:,} characters")
            validator.validate(shown(i))
            reason = "invalid"
        except ValueError as exc:
            reason = str(exc)
        print(f"INVALID {shown(i)}: {reason}")
    if args.codes:
        for i in np.flatnonzero(ok):
            print(f"valid   {shown(i)}")
    print(f"checked {len(codes):,} codes: {len(codes) - len(bad):,} valid, {len(bad):,} invalid",
          file=sys.stderr)
    return 1 if len(bad) else 0


def _scan_parser(data):
    from .scan import ScanParser
    if data:
        dd = DataDir(data)
        ring = dd.keyring
        if len(ring.versions) > 1:  # the parser knows one key: an older version's code reads a wrong counter
            print(f"note: counters are read under master-key version {ring.current} (the current one); "
                  f"for codes of older versions ask `tracecode verify` or `tracecode history`", file=sys.stderr)
        return ScanParser(dd.schemes, dd.master_key)
    return ScanParser()


def cmd_scan(args):
    parser = _scan_parser(args.data)
    if args.scans:  # a few scans: everything the parser read, one block each
        bad = 0
        for text in args.scans:
            try:
                s = parser.parse(text)
            except ValueError as exc:
                bad += 1
                print(f"ERROR   {text!r}: {exc} [{exc.fault.name}]")
                continue
            counter = "" if s.counter is None else f" counter={s.counter:,}"
            print(f"OK      {s.scheme or 'gs1 (no scheme)'} {s.form} {s.code}{counter}")
            for k, v in {**s.fields, **s.extra}.items():
                print(f"        {k} = {v}")
        return 1 if bad else 0
    # Bulk from stdin, one scan per line (scans may hold spaces and GS): one
    # tab-separated line each, built with vectorised string operations.
    lines = _stdin_items(lines=True)
    batch = parser.parse_many(lines)
    rec = batch.records
    from .scan import Fault
    faults = np.array([f.name for f in sorted(Fault)], dtype="S")
    names = np.array(batch.scheme_names + ["-"], dtype="S")
    counters = np.where(batch.counter_ok, batch.counter.astype("S20"), b"-")
    columns = [faults[rec["fault"]], names[rec["scheme"]], rec["code"], counters]
    rows = columns[0]
    for col in columns[1:]:
        rows = np.char.add(np.char.add(rows, b"\t"), col)
    sys.stdout.buffer.write(b"\n".join(rows.tolist()) + (b"\n" if len(rows) else b""))
    bad = int((rec["fault"] != 0).sum())
    print(f"parsed {len(rec):,} scans: {len(rec) - bad:,} ok, {bad:,} with faults", file=sys.stderr)
    return 1 if bad else 0


def _answer_line(a) -> str:
    parts = [a.verdict.name, a.scheme or "-", a.code or "-"]
    if a.batch:
        parts.append(f"batch={a.batch}")
    if a.lot:
        parts.append(f"lot={a.lot}")
    if a.expiry:
        parts.append(f"expiry={a.expiry}")
    parts.append(f"scans={a.scan_count}")
    if a.first_scan_place:
        parts.append(f"first={a.first_scan_place}")
    if a.reasons:
        parts.append("(" + "; ".join(a.reasons) + ")")
    return " ".join(parts)


def cmd_verify(args):
    """Verdicts from the index, or, when it has a product registry and the caller may
    check, the registry's checks for veterinary and pesticide scans: arguments, or
    stdin lines, in one batch."""
    from .app.rights import CHECKING
    from .registry.cli import print_answers
    scans = _scans(args)
    opts = {"scanner": args.scanner, "place": args.place, "record": not args.no_record}
    where = _where(args)
    with _backend(args) as c:  # a server's: imports gRPC, once its log level is set
        who = c.whoami(retry=False)
        if who.registry and not CHECKING.isdisjoint(who.roles):
            return print_answers(c.check_many(scans, answers=True, **opts, **where), _answer_line)
        answers = c.verify_many(scans, answers=True, **opts, **where)
        bad = 0
        for a in answers:
            print(_answer_line(a))
            bad += a.verdict.name != "GENUINE"
    return 1 if bad else 0


def _where(args) -> dict:
    """--region and --at as verify_many's region, lat, lon (checked there; --at read here)."""
    from .regions.location import parse_at
    where = {"region": args.region} if args.region else {}
    if args.at:
        where["lat"], where["lon"] = parse_at(args.at)
    return where


def cmd_events(args):
    """Lifecycle events from a JSON Lines file (or stdin), applied in order.

    A line that is not one JSON object is rejected with its number and the other lines are
    applied, like an event the index refuses; with --atomic, nothing is applied."""
    path = args.file
    if args.server:  # DIR is left out: the file is the first positional
        files = remote.positionals(args, "file")
        if len(files) > 1:
            raise remote.RemoteUsageError("with --server, give one events file (or none: stdin)")
        path = files[0] if files else None
    lines, events, bad = _read_events(path)
    if args.atomic and bad:
        results = [{"id": e.get("id"), "ok": False,
                    "error": "not applied: another line of the file is invalid"} for e in events]
        return _event_results(results, lines, bad)
    with _backend(args) as c:
        return _event_results(c.apply_events(events, atomic=args.atomic), lines, bad)


def _event_results(results, lines=None, bad=()) -> int:
    """Rejected events and lines on stdout (with their line numbers), the counts on stderr;
    exit 1 if anything was rejected."""
    numbers = lines if lines is not None else itertools.repeat(None)
    failed = [(n or 0, f"{r['id']}: {r['error']}" + (f" [line {n}]" if n else ""))
              for n, r in zip(numbers, results) if not r["ok"]]
    rejected = sorted(failed + list(bad), key=lambda x: x[0])
    for _, why in rejected:
        print(f"REJECTED {why}")
    print(f"{len(results) - len(failed):,} events applied, {len(rejected):,} rejected",
          file=sys.stderr)
    return 1 if rejected else 0


def _read_events(path) -> tuple[list, list, list]:
    """(line number of each event, the events, [(line number, reason)] of unusable lines)."""
    name = textinput.name_of(path)
    numbers, events, bad = [], [], []
    with textinput.open_input(path) as stream:
        for n, line in textinput.lines(stream):
            if isinstance(line, textinput.BadLine):
                bad.append((n, f"line {n}: {line.reason}"))
            elif line.strip():
                try:
                    events.append(textinput.json_object(line))
                    numbers.append(n)
                except ValueError as exc:
                    bad.append((n, f"line {n}: {exc}"))
    if not events and not bad:
        raise textinput.InputError(f"{name}: no events (the input is empty)")
    return numbers, events, bad


def cmd_history(args):
    import json
    codes = remote.positionals(args, "code") if args.server else \
        [args.code] if args.code is not None else []
    if len(codes) != 1:
        if args.server:
            raise remote.RemoteUsageError("give one CODE")
        raise CliError("give DIR and CODE")
    if args.epcis:   # DIR or --server alike (Service.history_epcis)
        with _backend(args) as c:
            print(json.dumps(c.history_epcis(codes[0]), ensure_ascii=False))
        return
    with _backend(args) as c:
        for item in c.history(codes[0]):
            print(json.dumps(item, ensure_ascii=False))


def cmd_import(args):
    """Codes issued by other systems, one per line, stored per code. A line that cannot be a
    code is reported with its number and the other lines are imported; exit 1 if any was."""
    from .store.lmdb import _codes, codekeys

    name = textinput.name_of(args.file)
    with DataDir(args.dir) as dd:
        record = _pairs(args.field, "--field")
        codes, bad = [], []
        with textinput.open_input(args.file) as stream:
            for n, line in textinput.lines(stream, MAX_IMPORT_LINE):
                code = line.strip() if isinstance(line, str) else line
                if isinstance(code, textinput.BadLine):
                    bad.append((n, code.reason))
                elif not code:
                    continue
                elif _CONTROL.search(code):
                    bad.append((n, "holds a control character"))
                elif len(codekeys.ext(code)) > _codes.KEY_LIMIT:
                    bad.append((n, f"longer than {_codes.KEY_LIMIT - 4} bytes (UTF-8, spaces and "
                                   f"dashes removed)"))
                else:
                    codes.append(code)
        if not codes and not bad:
            raise textinput.InputError(f"{name}: no codes (the input is empty)")
        n = dd.index.import_codes(codes, **record) if codes else 0
    for line, why in bad:
        print(f"REJECTED line {line}: {why}")
    print(f"imported {n:,} codes" + (f", {len(bad):,} lines rejected" if bad else ""),
          file=sys.stderr)
    return 1 if bad else 0


def cmd_batches(args):
    with DataDir(args.dir) as dd:
        for b in dd.index.batches.list():
            product = ",".join(f"{k}={v}" for k, v in b.product.items())
            print(f"{b.id}\t{b.scheme}\t{product}\t{b.start}\t{b.count}\t{b.lot or '-'}\t"
                  f"{b.expiry or '-'}\t{b.line or '-'}")


def cmd_backup(args):
    """A consistent copy of the index (online), its stamp, journal and schemes."""
    from . import pgbackup_cli
    url = pgbackup_cli.pg_store(args.dir)
    if url:   # the index in PostgreSQL: pg_basebackup (store/postgres/backup.py)
        return pgbackup_cli.cmd_backup(args, url)
    from .store.lmdb.backup import backup
    m = backup(args.dir, args.dest, with_key=args.with_key)
    key = ("master.key included (keep the backup as secret as the key)" if m["key_included"] else
           "the master keys wrapped by the HSM included (useless without its token)"
           if any(c.endswith(".wrapped") for c in m["copied"]) else
           f"master.key NOT included: keep it apart, a restore needs it "
           f"(fingerprint {m['key_fingerprint']})")
    print(f"backed up {args.dir} to {args.dest}: index {m['index']}, {m['size']:,} bytes "
          f"compacted; copied {', '.join(m['copied'])}; {key}", file=sys.stderr)


def cmd_restore(args):
    """Put a backup in place and replay the reservation journals over it."""
    from . import pgbackup_cli
    if pgbackup_cli.is_pg_backup(args.backup):   # point-in-time restore (store/postgres/backup.py)
        return pgbackup_cli.cmd_restore(args)
    from .store.lmdb.backup import restore
    r = restore(args.backup, args.dir, journals=args.journal or (), key_file=args.key,
                pkcs11_module=args.pkcs11_module)
    print(f"restored index {r['index']} (backup of {r['backup_created']}) into {args.dir}: "
          f"{r['journal_entries']:,} journal entries replayed from {', '.join(r['journals'])}, "
          f"{r['batches_put_back']:,} later batches put back; lifecycle events and scans "
          f"after the backup are not in it", file=sys.stderr)
    where = Path(args.dir) / "settings.toml"
    said = {"restored": f"{where} restored from the backup",
            "same": f"{where} as in the backup",
            "kept": f"{where} kept (it differs from the backup's {Path(args.backup) / 'settings.toml'}, "
                    f"which was not put back)"}.get(r["settings"])
    if said:
        print(said, file=sys.stderr)


# -- parser ----------------------------------------------------------------------------

def build_parser():
    p = _Parser(prog="tracecode", description="Issue and check product trace codes.")
    p.add_argument("--version", action="version", version=f"tracecode {__version__}")
    p.add_argument("--store", metavar="URL", default=None, type=store_url,
                   help="the index's PostgreSQL URL for this command (and a serve's workers), "
                        "overriding DIR/settings.toml's store: tracecode --store URL VERB DIR ...")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("init", help="create a data directory with a new master key")
    s.add_argument("dir")
    s.add_argument("--base-url", metavar="URL",
                   help="the platform's public address (e.g. https://trace.example.gov.cn): "
                        "its pages, and the Digital Link URIs issued here (default id.gs1.org)")
    s.add_argument("--crypto", choices=("aes", "sm"), default="aes",
                   help="cipher suite, for good: aes = FF1-AES-256, HKDF-SHA-256 (default); "
                        "sm = FF1-SM4 (GB/T 32907), HKDF-SM3 (GB/T 32905), SM3 for the audit chain")
    s.add_argument("--store", metavar="URL", type=store_url,
                   help="keep the index in PostgreSQL (postgresql://...), recorded in DIR/settings.toml; "
                        "the keys stay in DIR (default: the embedded LMDB index in DIR/index)")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("settings", help="show or change a data directory's settings (base URL)")
    s.add_argument("dir")
    s.add_argument("--base-url", metavar="URL",
                   help="set the public base URL (https://host[:port][/prefix]; '' unsets it)")
    s.set_defaults(func=cmd_settings)

    s = sub.add_parser("schemes", help="list the code schemes, or show one's definition")
    s.add_argument("--data", help="data directory whose custom schemes to include")
    s.add_argument("--show", metavar="NAME", help="print a scheme's definition file")
    s.set_defaults(func=cmd_schemes)

    s = sub.add_parser("issue", help="reserve and write a batch of new codes")
    s.add_argument("dir", nargs="?", help="data directory (see init); or --server")
    s.add_argument("--scheme", required=True)
    s.add_argument("--product", "-p", action="append", metavar="FIELD=VALUE",
                   help="a product field; repeat for each (a lone VALUE if there is one field)")
    s.add_argument("--count", "-n", type=int, required=True)
    s.add_argument("--render", "-r", default="bare", help="bare (default), element, hri or dl")
    s.add_argument("--attr", "-a", action="append", metavar="FIELD=VALUE",
                   help="a batch attribute, e.g. expiry=261231 or lot=ABC123 for GS1")
    s.add_argument("--out", "-o", help="file to write (default: standard output)")
    s.add_argument("--lot", help="lot recorded with the batch (GS1: also --attr lot=...)")
    s.add_argument("--expiry", help="expiry recorded with the batch, YYYYMMDD or YYMMDD")
    s.add_argument("--line", help="production line, recorded with the batch")
    s.add_argument("--requester", help="who asked for the batch, recorded with it")
    remote.add_server_options(s)
    s.set_defaults(func=cmd_issue)

    s = sub.add_parser("check", help="check the structure and check characters of codes")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--scheme", help="check codes of this scheme")
    g.add_argument("--system", help=f"check with one system: {', '.join(checks.SYSTEMS)}")
    s.add_argument("--data", help="data directory whose custom schemes to include")
    s.add_argument("codes", nargs="*", metavar="CODE", help="codes (default: whitespace-separated on stdin)")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("scan", help="parse scans: scheme, fields and (with --data) the counter")
    s.add_argument("--data", help="data directory: its key recovers counters, its schemes are read")
    s.add_argument("scans", nargs="*", metavar="SCAN",
                   help="scans (default: one per line on stdin, printed as tab-separated results)")
    s.set_defaults(func=cmd_scan)

    s = sub.add_parser("verify", help="verdicts on scans from the index (recorded in the scan log)")
    s.add_argument("dir", nargs="?", help="data directory; or --server (then every positional is a scan)")
    s.add_argument("scans", nargs="*", metavar="SCAN", help="scans (default: one per line on stdin)")
    s.add_argument("--scanner", help="scanner id to record")
    s.add_argument("--place", help="place to record")
    s.add_argument("--region", help="GB/T 2260 region code to record (6 digits, e.g. 110105)")
    s.add_argument("--at", metavar="LAT,LON", help="WGS-84 coordinates to record, e.g. 39.92,116.44")
    s.add_argument("--no-record", action="store_true", help="do not log these scans")
    remote.add_server_options(s)
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("events", help="apply lifecycle events (JSON Lines) to the index")
    s.add_argument("dir", nargs="?", help="data directory; or --server")
    s.add_argument("file", nargs="?", help="JSON Lines file (default: stdin)")
    s.add_argument("--atomic", action="store_true",
                   help="refuse the whole file if any event is invalid (default: reject one by one)")
    remote.add_server_options(s)
    s.set_defaults(func=cmd_events)

    s = sub.add_parser("history", help="every event and scan of a code and its containers")
    s.add_argument("dir", nargs="?", help="data directory; or --server")
    s.add_argument("code", nargs="?")
    s.add_argument("--epcis", action="store_true",
                   help="print it as one GS1 EPCIS 2.0 EPCISDocument (DIR only)")
    remote.add_server_options(s)
    s.set_defaults(func=cmd_history)

    s = sub.add_parser("import", help="store codes issued by other systems (one per line)")
    s.add_argument("dir")
    s.add_argument("file", help="file of codes, or - for stdin")
    s.add_argument("--field", action="append", metavar="NAME=VALUE",
                   help="recorded with every code: lot=..., expiry=YYYYMMDD, approval_number=...")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("batches", help="list issued batches (tab-separated)")
    s.add_argument("dir")
    s.set_defaults(func=cmd_batches)

    s = sub.add_parser("backup", help="copy the index consistently (while serving) to a new directory")
    s.add_argument("dir")
    s.add_argument("dest", help="a new (or empty) directory for the backup")
    s.add_argument("--with-key", action="store_true",
                   help="copy master.key too (default: not; keep the key apart)")
    s.set_defaults(func=cmd_backup)

    s = sub.add_parser("restore", help="restore a backup, replaying reservations made since")
    s.add_argument("backup")
    s.add_argument("dir", help="the data directory (its damaged index is kept aside) or a new one")
    s.add_argument("--journal", action="append", metavar="FILE",
                   help="a reservation journal of the index (DIR's own is always used)")
    s.add_argument("--key", metavar="FILE", help="the master key, when DIR is new and the "
                   "backup has none")
    s.add_argument("--pkcs11-module", metavar="PATH", help="the PKCS#11 module the backup's keys are "
                   "wrapped with (a backup naming one is restored only when you name the same)")
    from .pgbackup_cli import add_restore_options
    add_restore_options(s)
    s.set_defaults(func=cmd_restore)

    add_label_parser(sub)
    add_serve_parser(sub)
    remote.add_token_parser(sub)
    add_registry_parser(sub)
    add_capacity_parser(sub)
    add_links_parser(sub)
    add_epcis_parser(sub)
    add_asset_parsers(sub)
    add_licence_parser(sub)
    add_quota_parsers(sub)
    add_audit_parser(sub)
    add_privacy_parser(sub)
    add_key_parser(sub)
    add_cluster_parser(sub)
    add_export_parser(sub)
    add_analyze_parsers(sub)
    return p


def _verb(args) -> str:
    """`tracecode VERB` (with the action of registry and token), the prefix of its errors."""
    words = [args.command, getattr(args, "registry_command", None), getattr(args, "token_command", None),
             getattr(args, "epcis_command", None), getattr(args, "audit_command", None),
             getattr(args, "privacy_command", None),
             getattr(args, "key_command", None), getattr(args, "quota_cmd", None),
             getattr(args, "cluster_command", None)]
    return " ".join(["tracecode"] + [w for w in words if w])


def _one_line(msg) -> str:
    # A message quoting hostile input could hold line breaks or be huge: keep it one short line.
    text = " ".join(str(msg).split())
    return text if len(text) <= 500 else text[:497] + "..."


def _warning_line(message, category, filename, lineno, file=None, line=None):
    """A warning (a scheme file refused, the others loaded) as one line on stderr."""
    print(f"tracecode: warning: {_one_line(message)}", file=sys.stderr)


def _spill(parser, args, extra) -> None:
    """Positionals after an option (`verify DIR --no-record SCAN`): argparse fills a verb's
    positionals at their first run and leaves later ones over. They join its list of scans
    or codes (or fill its one missing FILE or NUMBER); anything else is unrecognized."""
    flags = [e for e in extra if e.startswith("-") and e != "-"]
    if flags:
        parser.error(f"unrecognized arguments: {' '.join(flags)}")
    for name in ("scans", "codes"):
        if isinstance(getattr(args, name, None), list):
            getattr(args, name).extend(extra)
            return
    missing = [n for n in ("file", "number") if hasattr(args, n) and getattr(args, n) is None]
    if len(extra) == 1 and missing:
        setattr(args, missing[0], extra[0])
        return
    parser.error(f"unrecognized arguments: {' '.join(extra)}")


def main(argv=None) -> int:
    warnings.showwarning = _warning_line
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        _spill(parser, args, extra)
    if getattr(args, "store", None):   # every DataDir this command (or its workers) opens
        os.environ[STORE_VAR] = args.store
    try:
        return args.func(args) or 0
    except CliError as exc:
        print(f"{_verb(args)}: {_one_line(exc)} (see {_verb(args)} --help)", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `tracecode issue ... | head`: the reader has enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (TracecodeError, KeyError, ValueError, OSError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"{_verb(args)}: {_one_line(msg)}", file=sys.stderr)
        return 1
    except StoreFailure as exc:   # e.g. damaged pages inside the index, met after it opened
        print(f"{_verb(args)}: the index failed: {_one_line(exc)}; if its data.mdb is damaged, "
              f"restore a backup (`tracecode restore`)", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{_verb(args)}: out of memory: the input is too large for this machine",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
