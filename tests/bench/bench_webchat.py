"""Web chat turn on the embedded default (issue 16): one citizen at a time, p99 of a message's round trip.

    .venv/bin/python -m tests.bench.bench_webchat [--citizens 40]

Starts ``gopy serve`` as a fresh machine runs it (SQLite file, the in-process stand-in for Redis, workers on), waits
until the NLU model is loaded, then plays citizens one after another through ``POST /api/webchat/messages``: a
report in everyday Vietnamese (with and without diacritics), then the first button of each answer (consent, place,
confirmation...) until the bot stops offering one. Every request is timed from send to the parsed reply.
Target: p99 <= 100 ms. The machine's load average is printed: on a shared machine the figures depend on it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.bench.bench_ingest import MODELS, free_port, wait_http, wait_idle
from tests.bench.common import percentile, row

BIN = Path(sys.executable).parent
TARGET_MS = 100.0
REPORTS = [
    "Đường ở xóm 3 thôn Đông bị ngập sâu sau mưa lớn, đề nghị xã xử lý gấp",
    "den duong ngo 12 pho Le Loi hong may thang nay, toi lam, nguoi di lai nguy hiem",
    "Rác thải đổ bừa bãi cạnh chợ phường Bến Thành, bốc mùi hôi thối",
    "Xin hỏi thủ tục làm lại căn cước bị mất thì cần giấy tờ gì ạ",
    "cong truong xay dung lam on ca dem o phuong 5, dan khong ngu duoc",
]


def play(client: httpx.Client, session: str, text: str, times: list[float], max_turns: int = 6) -> int:
    body: dict[str, object] = {"session": session, "text": text}
    turns = 0
    for _ in range(max_turns):
        started = time.perf_counter()
        answer = client.post("/api/webchat/messages", json=body)
        replies = answer.json()["replies"] if answer.status_code == 200 else []
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.status_code}: {answer.text[:200]}")
        turns += 1
        buttons = [b for r in replies for b in r.get("buttons", [])]
        if not buttons:
            break
        body = {"session": session, "payload": buttons[0]["payload"], "text": buttons[0]["title"]}
    return turns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--citizens", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "GOPY_DATABASE_URL": f"sqlite:///{tmp}/gopy.db",
            "GOPY_REDIS_URL": "",
            "GOPY_MODEL_DIR": str(MODELS),
            "GOPY_WEBCHAT_RATE_PER_SESSION": "1000",
            "GOPY_WEBCHAT_RATE_PER_ADDRESS": "100000",
        }
        proc = subprocess.Popen(
            [str(BIN / "gopy"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", 600)
            wait_idle(proc.pid)  # the model (trained on a first start) is loaded in the background
            times: list[float] = []
            turns = 0
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                play(client, "warmup-session-0", REPORTS[0], [])
                for i in range(args.citizens):
                    turns += play(client, f"bench-citizen-{i:04d}", REPORTS[i % len(REPORTS)], times)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    p99 = percentile(times, 99)
    print(f"\nWeb chat on the embedded default (SQLite + in-process stand-in), one citizen at a time "
          f"(load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    print(row(f"turns timed ({args.citizens} citizens)", f"{turns}"))
    print(row("p50 / p95", f"{percentile(times, 50):.1f} / {percentile(times, 95):.1f} ms"))
    print(row("p99", f"{p99:.1f} ms", f"<= {TARGET_MS:.0f} ms", "OK" if p99 <= TARGET_MS else "SLOW"))
    print(row("max", f"{max(times):.1f} ms"))


if __name__ == "__main__":
    main()
