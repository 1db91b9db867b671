"""The ``rag`` command: build, ask, chat, eval, status, serve.

JSON-first: ``--json`` prints machine-readable output (one object, or one per line for
``ask --batch``). Errors print one line to stderr and exit non-zero (see ``rag.errors``).
Environment (read here, at the edge): ``RAG_INDEX`` sets the default index folder;
``RAG_THREADS`` the default of ``--threads``; ``RAG_HOST`` and ``RAG_PORT`` where ``serve`` listens.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.errors import InputError, RagError
from rag.settings import MODES, BuildOptions

BUNDLED_CORPUS = Path(__file__).resolve().parents[2] / "data"
MAX_THREADS = 256
STORE_HELP = (
    "where vectors and BM25 live: embedded (files in the index folder), milvus-lite:PATH.db or milvus://HOST:PORT "
    "(default: the store the index uses; embedded for a new index). Another store moves the index there."
)
"""More model threads than this is a typo (torch crashes on 100000)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rag`` console script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _set_threads(args.threads)
        return int(args.func(args) or 0)
    except RagError as err:
        print(f"rag: error: {_one_line(str(err))}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:
        print(f"rag: interrupted{': ' + str(err) if str(err) else ''}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rag status | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _set_threads(threads: str | None) -> None:
    """Cap torch's CPU threads for this process. One thread per question keeps a busy server's
    latency steady (threads of one small encode otherwise wait on each other); builds want more."""
    if not threads:
        return
    if not (threads.isascii() and threads.isdigit() and 1 <= int(threads) <= MAX_THREADS):
        raise InputError(f"--threads / RAG_THREADS must be a positive whole number up to {MAX_THREADS}, not {threads!r}")
    import torch

    torch.set_num_threads(int(threads))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _parser() -> argparse.ArgumentParser:
    default_index = os.environ.get("RAG_INDEX", "index")
    parser = argparse.ArgumentParser(prog="rag", description="Answers made of cited sentences from your documents.")
    threads_help = "CPU threads for the model (default: torch's; env RAG_THREADS)"
    parser.add_argument("--threads", default=os.environ.get("RAG_THREADS"), help=threads_help)
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser(
        "build",
        help="build or re-sync the index from its remembered sources",
        description="With no PATHS: re-sync the sources the index remembers (new, changed and deleted files are "
        "picked up; a new index gets the bundled corpus in data/). With PATHS on a new index: they become its sources. "
        "An index that remembers other paths is left alone: use `rag add`, or --replace to make PATHS its only paths "
        "(uploads stay).",
    )
    build.add_argument("paths", nargs="*", help="files or folders (.txt .md .rst .html .pdf .docx .csv .tsv .xlsx .json .jsonl)")
    build.add_argument(
        "--replace", action="store_true", help="make PATHS the only remembered paths (documents elsewhere are dropped)"
    )
    build.add_argument("--chunk-tokens", type=int, help=f"chunk size in cl100k tokens (default {BuildOptions.chunk_tokens})")
    build.add_argument(
        "--overlap-tokens", type=int, help=f"overlap between chunks in tokens (default {BuildOptions.overlap_tokens})"
    )
    build.add_argument("--model", help="sentence-transformers model name or path (default: bundled all-MiniLM-L6-v2)")
    build.set_defaults(func=cmd_build)

    add = sub.add_parser("add", help="add files or folders to the index (remembered, indexed in place)")
    add.add_argument("paths", nargs="+", help="files or folders; a path removed earlier comes back")
    add.add_argument("--copy", action="store_true", help="keep a copy inside the index (as a UI upload) instead")
    add.set_defaults(func=cmd_add)

    remove = sub.add_parser("remove", help="remove one document, remembered path or upload from the index")
    remove.add_argument("target", help="a document id (or its first 6+ characters, see `rag list`), a path, or an upload's name")
    remove.set_defaults(func=cmd_remove)

    listing = sub.add_parser("list", help="the indexed documents, with where each comes from")
    listing.set_defaults(func=cmd_list)

    ask = sub.add_parser("ask", help="answer a question with cited sentences")
    ask.add_argument("question", nargs="*", help="the question (quotes are optional: rag ask Who met Putin?)")
    ask.add_argument("--batch", metavar="QUESTIONS.jsonl", help='one {"q": ...} (or a plain string) per line')
    ask.add_argument(
        "--mode", choices=MODES, default="hybrid", help="chunk ranking: hybrid (learned, default) or handtuned, dense, bm25"
    )
    ask.set_defaults(func=cmd_ask)

    chat = sub.add_parser(
        "chat",
        help="a conversation in the terminal (follow-up questions; /new, /help, /quit)",
        description="Ask questions one after another with the model loaded once; follow-ups use your earlier "
        "questions. Each answer is followed by its sources. /new starts over, /help lists commands, Ctrl-D leaves.",
    )
    chat.add_argument("--mode", choices=MODES, default="hybrid", help="chunk ranking (default: hybrid, the learned fusion)")
    chat.set_defaults(func=cmd_chat)

    ev = sub.add_parser(
        "eval",
        help="metrics JSON on a gold file of questions",
        description="Metrics JSON for a gold file. Article format (JSON Lines): "
        '{"q": QUESTION, "gold": [SUBSTRING, ...]} per line, an answer is right when a cited sentence contains a '
        "gold substring, gold [] means the system should abstain: P@1, R@3, abstention. MultiHop-RAG format (a JSON "
        'list): {"query": ..., "evidence_list": [{"fact": ..., "url": ..., "title": ...}, ...]}, a fact is found in a '
        "chunk that contains it: Hits@10, Hits@4, MRR@10 of the top 10 chunks, abstention on queries without "
        'evidence. Warns (stderr and "warnings") when the index holds none of the gold documents.',
    )
    ev.add_argument("gold", help="article-format .jsonl or MultiHop-RAG queries .json (see above)")
    ev.add_argument("--mode", choices=MODES, default="hybrid", help="chunk ranking (default: hybrid, the learned fusion)")
    ev.add_argument("--limit", type=int, help="evaluate only the first N records")
    ev.set_defaults(func=cmd_eval, json=True)

    status = sub.add_parser("status", help="what the index holds")
    status.add_argument("--verify", action="store_true", help="also check every data file (sha256, shapes)")
    status.set_defaults(func=cmd_status)

    serve = sub.add_parser("serve", help="open the chat UI (scripts/start.sh passes its arguments here)")
    serve.add_argument(
        "--host",
        default=os.environ.get("RAG_HOST", "127.0.0.1"),
        help="address to listen on (default 127.0.0.1: this machine only; env RAG_HOST; "
        "any other address needs RAG_UI_USER and RAG_UI_PASSWORD)",
    )
    serve.add_argument("--port", help="port to listen on, 1-65535 (default 7860; env RAG_PORT)")
    serve.set_defaults(func=cmd_serve)

    for p in (build, add, remove, listing, ask, chat, ev, status, serve):
        p.add_argument("--index", default=default_index, help=f"index folder (default {default_index}; env RAG_INDEX)")
        if p in (build, add, remove):
            p.add_argument("--store", default="auto", help=STORE_HELP)
        elif p in (ask, ev):
            p.add_argument("--store", default="auto", help="the index's store at another address (same kind; default: as built)")
        # Also after the subcommand; SUPPRESS keeps a value given before it (or RAG_THREADS) when absent here.
        p.add_argument("--threads", default=argparse.SUPPRESS, help=threads_help)
        if p not in (chat, ev, serve):
            p.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def cmd_build(args: argparse.Namespace) -> int:
    from rag.indexing.manage import build_index

    options: dict[str, Any] = {"progress": not args.json, "store": args.store}
    for name in ("chunk_tokens", "overlap_tokens", "model"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    paths = args.paths or ([] if (Path(args.index) / "manifest.json").exists() else [str(BUNDLED_CORPUS)])
    return _print_report(build_index(paths, args.index, replace=args.replace, **options), args.json)


def cmd_add(args: argparse.Namespace) -> int:
    from rag.indexing.manage import add_documents, add_sources

    add = add_documents if args.copy else add_sources
    return _print_report(add(args.paths, args.index, progress=not args.json, store=args.store), args.json)


def cmd_remove(args: argparse.Namespace) -> int:
    from rag.indexing.manage import remove_document

    return _print_report(remove_document(args.target, args.index, progress=not args.json, store=args.store), args.json)


def cmd_list(args: argparse.Namespace) -> int:
    from rag.indexing.manage import list_documents

    rows = list_documents(args.index)
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        date = f" ({r['date']})" if r["date"] else ""
        print(f"{r['id']}  {r['title']}{date}  [{r['origin'] or r['key']}]")
    return 0


def _count(n: int, noun: str) -> str:
    """``1 document`` / ``3 documents``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _print_report(report: Any, as_json: bool) -> int:
    for line in report.notes:
        print(f"note: {line}", file=sys.stderr)
    if as_json:
        _print_json(report.to_dict())
        return 0
    print(
        f"{report.index_dir}: {_count(report.documents, 'document')}, {_count(report.chunks, 'chunk')}, "
        f"{_count(report.sentences, 'sentence')} "
        f"(added {report.added}, updated {report.updated}, removed {report.removed}, unchanged {report.unchanged}) "
        f"in {report.seconds:.2f}s"
    )
    for line in report.skipped:
        print(f"skipped: {line}", file=sys.stderr)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.answering.answer import answer

    if args.batch:
        from rag.cli.batch import run_batch

        return run_batch(args.batch, args.index, args.mode, store=args.store)
    if not args.question:
        raise InputError("give a question, or --batch FILE")
    result = answer(" ".join(args.question), index_dir=args.index, mode=args.mode, store=args.store)
    if args.json:
        _print_json(result.to_dict())
        return 0
    print(result.text)
    for note in result.notices:
        print(f"note: {note}", file=sys.stderr)
    if result.abstained:
        from rag.cli.chat import closest_lines

        for line in closest_lines(result):
            print(line)
    for c in result.citations:
        print(f"[{c.n}] {c.title}{f' ({c.date})' if c.date else ''} {c.source} chars {c.start}-{c.end}")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from rag.cli.chat import chat

    return chat(args.index, mode=args.mode)


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.cli.evaluate import evaluate

    def warn(message: str) -> None:  # as soon as it is known, not after minutes of scoring
        print(f"rag: warning: {message}", file=sys.stderr, flush=True)

    _print_json(evaluate(args.gold, args.index, mode=args.mode, limit=args.limit, on_warning=warn, store=args.store))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from rag.indexing.manage import index_status

    info = index_status(args.index, verify=args.verify)
    if args.json:
        _print_json(info)
    else:
        print("\n".join(f"{k}: {v}" for k, v in info.items()))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.app import serve

    port = port_number(args.port or os.environ.get("RAG_PORT") or "7860")
    check_port_free(args.host, port)  # at once, before gradio is even imported
    from rag.indexing.manage import recover

    for line in recover(args.index):  # finish or roll back a change a crash interrupted
        print(f"note: {line}", file=sys.stderr)
    serve(index_dir=args.index, host=args.host, port=port)
    return 0


def port_number(value: str) -> int:
    """A TCP port from ``--port`` / ``RAG_PORT``; InputError unless a whole number from 1 to 65535.

    >>> port_number("7861")
    7861
    """
    text = value.strip()
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 65535):
        raise InputError(f"--port / RAG_PORT must be a whole number from 1 to 65535, not {value!r}")
    return int(text)


def check_port_free(host: str, port: int) -> None:
    """InputError at once when something already listens on ``host:port`` (often rag itself)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no obstacle
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as err:
            shown = f"[{host}]" if ":" in host else host
            if err.errno == errno.EADDRINUSE:
                raise InputError(
                    f"port {port} on {host} is already in use: rag may already be running there (open http://{shown}:{port}), "
                    "or start this one with another --port"
                ) from None
            raise InputError(f"cannot serve on {host}:{port}: {err.strerror or err}; try another --port or --host") from None
