"""How should one worker process hold hundreds of streamed LLM replies in flight at once?

N concurrent `POST` + SSE streams with httpx, run three ways, each (mechanism, pool, N,
repetition) in a fresh client subprocess so their memory does not mix: `gevent`
(monkey.patch_all() first, N greenlets, sync httpx.Client, iter_lines()), `asyncio` (N
tasks, httpx.AsyncClient, aiter_lines(), on uvloop when importable) and `threads` (N OS
threads, sync httpx.Client, unpatched). Pool `shared` is one client for all N with
httpx.Limits(max_connections=N, max_keepalive_connections=N); pool `K` gives every K streams
a client of their own with limits K (one SSLContext for all), which separates the
mechanism's cost from httpcore's pool bookkeeping (it scans every connection on each
request start and end). Every delta is json-decoded, as a worker would. The server is a
paced SSE fake in its own process on 127.0.0.1 (`--serve PORT`, asyncio streams, HTTP/1.1
chunked, keep-alive): headers at once, 800 ms, 16 chunks at 25 a second, `data: [DONE]`.
A reply takes ~1.44 s, so all N end in ~1.5 s if they really overlap.

Measured in the client after imports, client creation and one warm-up stream: KiB/stream =
(peak RSS during the run, sampled every 50 ms by a real OS thread from /proc/self/statm,
- RSS before) / N; CPU ms/stream = the process's user+sys time over the run / N; wall s =
start of the streams to end of the last; in flight = most streams open at once (headers in,
[DONE] not yet); ok = every stream got all 16 deltas and [DONE], in every repetition.
Cells are medians of --reps runs. CPU/stream is robust to other load; wall time is not.

    python -m bench.mechanism              # N = 100, 500, 1000; pools shared and 10; 3 reps
    python -m bench.mechanism --n 100,500 --reps 1 --mechanisms asyncio,threads --pools 10
    python -m bench.mechanism --json out.json
"""

import sys

if __name__ == "__main__" and sys.argv[1:3] == ["--client", "gevent"]:
    from gevent import monkey  # before anything imports socket, ssl or threading

    monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

MECHANISMS = ("gevent", "asyncio", "threads")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # for `python -m bench.…`
DELAY_S, CHUNKS, RATE = 0.8, 16, 25.0
WORDS = "word word "
EVENT = ('data: {"choices":[{"delta":{"content":"' + WORDS + '"}}]}\n\n').encode()
EVENT_CHUNK = b"%x\r\n%s\r\n" % (len(EVENT), EVENT)  # HTTP/1.1 chunked framing
DONE = b"data: [DONE]\n\n"
LAST_CHUNK = b"%x\r\n%s\r\n0\r\n\r\n" % (len(DONE), DONE)  # then the terminating chunk
BODY = {"model": "fake", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def _run_loop(coro) -> None:
    try:
        from uvloop import run
    except ImportError:
        from asyncio import run
    run(coro)


# ---------------------------------------------------------------- server (--serve PORT)
async def _serve_conn(reader, writer) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    try:
        while True:  # keep-alive: one request after another on this connection
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    await reader.readexactly(int(line.split(":", 1)[1]))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            t0 = loop.time()
            for i in range(CHUNKS):  # absolute pacing: a busy loop does not stretch a reply
                await asyncio.sleep(max(0.0, t0 + DELAY_S + i / RATE - loop.time()))
                writer.write(EVENT_CHUNK)
                await writer.drain()
            writer.write(LAST_CHUNK)
            await writer.drain()
            if "connection: close" in head:
                break
    except (asyncio.IncompleteReadError, ConnectionError, RuntimeError):
        pass  # the client went away (uvloop raises RuntimeError on a closed transport)
    finally:
        writer.close()


def serve(port: int) -> None:
    import asyncio

    async def serve_forever() -> None:
        server = await asyncio.start_server(_serve_conn, "127.0.0.1", port, backlog=4096)
        print("ready", flush=True)
        await server.serve_forever()

    _run_loop(serve_forever())


# -------------------------------------------- client (--client MECH N PORT PER_CLIENT)
class Meter:
    """Baseline RSS, CPU and time at start(); peak RSS sampled every 50 ms until stop()."""

    def start(self) -> None:
        import _thread

        sleep, start_thread = time.sleep, _thread.start_new_thread
        if "gevent" in sys.modules:  # a real OS thread, not a greenlet
            from gevent.monkey import get_original

            sleep = get_original("time", "sleep")
            start_thread = get_original("_thread", "start_new_thread")
        self.running, self.base = True, self.rss()
        self.peak, self.cpu0, self.t0 = self.base, self.cpu(), time.perf_counter()

        def sample() -> None:
            while self.running:
                self.peak = max(self.peak, self.rss())
                sleep(0.05)

        start_thread(sample, ())

    def stop(self) -> None:
        self.wall, self.cpu1 = time.perf_counter() - self.t0, self.cpu()
        self.running, self.peak = False, max(self.peak, self.rss())

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    @staticmethod
    def cpu() -> float:
        return sum(os.times()[:2])  # user + system, all threads


def _on_line(line: str, parts: list) -> bool:
    """Handle one SSE line; True on [DONE]."""
    if not line.startswith("data: "):
        return False
    if line[6:] == "[DONE]":
        return True
    parts.append(json.loads(line[6:])["choices"][0]["delta"]["content"])
    return False


def _result(t_open: float, parts: list, done: bool) -> tuple:
    return (t_open, time.perf_counter(), done and "".join(parts) == WORDS * CHUNKS)


def _sync_stream(client, url: str, out: list) -> None:
    try:
        with client.stream("POST", url, json=BODY) as r:
            t_open, parts, done = time.perf_counter(), [], False
            for line in r.iter_lines():
                done = _on_line(line, parts) or done
        out.append(_result(t_open, parts, done))
    except Exception as e:  # noqa: BLE001 - counted as a failed stream
        out.append((0.0, 0.0, False, repr(e)))


async def _async_stream(client, url: str, out: list) -> None:
    try:
        async with client.stream("POST", url, json=BODY) as r:
            t_open, parts, done = time.perf_counter(), [], False
            async for line in r.aiter_lines():
                done = _on_line(line, parts) or done
        out.append(_result(t_open, parts, done))
    except Exception as e:  # noqa: BLE001
        out.append((0.0, 0.0, False, repr(e)))


def client(mech: str, n: int, port: int, per_client: int) -> dict:
    import ssl

    import httpx

    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    meter, out, k = Meter(), [], per_client or n
    ctx = ssl.create_default_context()  # loading the CA bundle is per client, not per stream
    cls = httpx.AsyncClient if mech == "asyncio" else httpx.Client
    clients = [
        cls(
            limits=httpx.Limits(max_connections=k, max_keepalive_connections=k),
            timeout=60.0,
            trust_env=False,
            verify=ctx,
        )
        for _ in range(-(-n // k))
    ]
    if mech == "asyncio":
        import asyncio

        async def run_all() -> None:
            await _async_stream(clients[0], url, [])  # warm-up
            meter.start()
            await asyncio.gather(*(_async_stream(clients[i // k], url, out) for i in range(n)))
            meter.stop()
            for c in clients:
                await c.aclose()

        _run_loop(run_all())
    else:
        _sync_stream(clients[0], url, [])  # warm-up
        jobs = [(clients[i // k], url, out) for i in range(n)]
        meter.start()
        if mech == "gevent":
            import gevent

            assert gevent.monkey.is_module_patched("socket")
            gevent.joinall([gevent.spawn(_sync_stream, *job) for job in jobs])
        else:
            import threading

            threads = [threading.Thread(target=_sync_stream, args=job) for job in jobs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        meter.stop()
        for c in clients:
            c.close()
    open_now = in_flight = 0
    for _, d in sorted([(r[0], 1) for r in out if r[2]] + [(r[1], -1) for r in out if r[2]]):
        open_now, in_flight = open_now + d, max(in_flight, open_now + d)
    return {
        "ok_streams": sum(bool(r[2]) for r in out),
        "errors": sorted({r[3] for r in out if len(r) > 3})[:3],
        "rss_base_kib": meter.base / 1024,
        "rss_peak_kib": meter.peak / 1024,
        "kib_per_stream": (meter.peak - meter.base) / 1024 / n,
        "cpu_ms_per_stream": (meter.cpu1 - meter.cpu0) * 1000 / n,
        "wall_s": meter.wall,
        "in_flight": in_flight,
    }


# ---------------------------------------------------------------------- orchestrator
def _run_client(mech: str, n: int, port: int, per_client: int) -> dict:
    cmd = [sys.executable, "-m", "bench.mechanism", "--client", mech, str(n), str(port), str(per_client)]
    try:  # subprocess.run kills the child on timeout
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"ok_streams": 0, "errors": ["client timed out after 180 s"]}
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"ok_streams": 0, "errors": [p.stderr[-300:]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="100,500,1000")
    ap.add_argument("--mechanisms", default=",".join(MECHANISMS))
    ap.add_argument("--pools", default="shared,10", help="shared and/or streams per client")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args()
    ns, mechs = [int(x) for x in args.n.split(",")], args.mechanisms.split(",")
    pools = [0 if p == "shared" else int(p) for p in args.pools.split(",")]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.mechanism", "--serve", str(port)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    cells = [(m, k, n) for k in pools for n in ns for m in mechs]
    runs: dict = {cell: [] for cell in cells}
    try:
        assert server.stdout.readline().strip() == "ready", "the SSE server did not start"
        for rep in range(args.reps):  # interleaved, so drifts in the load hit all alike
            for m, k, n in cells:
                r = _run_client(m, n, port, k)
                runs[(m, k, n)].append(r)
                print(
                    f"  rep {rep + 1} {m:8} pool {k or 'shared':>6} N={n:5}: "
                    f"{r['ok_streams']}/{n} ok {r.get('wall_s', float('nan')):.2f} s "
                    f"{r['errors'] or ''}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(timeout=10)
    rows = []
    for (m, k, n), rs in runs.items():
        good = [r for r in rs if "wall_s" in r]
        med = {
            key: statistics.median(r[key] for r in good) if good else float("nan")
            for key in ("kib_per_stream", "cpu_ms_per_stream", "wall_s", "in_flight")
        }
        rows.append(
            {
                "mechanism": m,
                "pool": k or "shared",
                "n": n,
                **med,
                "runs": rs,
                "ok_reps": sum(r["ok_streams"] == n for r in rs),
                "reps": len(rs),
            }
        )
    print(
        f"\n{'mechanism':10}{'pool':>7}{'N':>6}{'KiB/stream':>12}{'CPU ms/stream':>15}"
        f"{'wall s':>8}{'in flight':>11}  ok   (medians of {args.reps})"
    )
    for r in rows:
        ok = "yes" if r["ok_reps"] == r["reps"] else f"NO, {r['ok_reps']}/{r['reps']} reps"
        print(
            f"{r['mechanism']:10}{r['pool']:>7}{r['n']:>6}{r['kib_per_stream']:>12.1f}"
            f"{r['cpu_ms_per_stream']:>15.2f}{r['wall_s']:>8.2f}{r['in_flight']:>11.0f}  {ok}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"pacing": {"delay_s": DELAY_S, "chunks": CHUNKS, "rate": RATE}, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    elif sys.argv[1:2] == ["--client"]:
        mech, n, port, per_client = sys.argv[2], *map(int, sys.argv[3:6])
        print(json.dumps(client(mech, n, port, per_client)))
    else:
        main()
