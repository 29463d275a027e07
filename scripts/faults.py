#!/usr/bin/env python3
"""Re-measures the figures of the README's "Operating it: faults" section against a release
binary (standard library only):

  scripts/faults.py [BIN]        default BIN: target/release/gatehouse

1. memory: RSS while 8 keep-alive clients hammer /healthz for 60 s with nobody scraping
   /metrics (sampled every 10 s);
2. connections: 1,100 silent connections are opened, once with the soft open-file limit at
   1,024 (the server raises it to the hard limit) and once with the hard limit at 1,024 too
   (the cap is then 768); how many the server refused at once, what /healthz answers beside
   them and how fast, and how long until the rest are closed (the header-read timeout).

Each figure is printed; nothing is asserted here (the tests in server/tests/it assert the
behaviour). The server runs on SQLite in a temporary data dir.
"""

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, data_dir, port, soft_files=None, hard_files=None):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GATEHOUSE_DATA_DIR": data_dir,
        "GATEHOUSE_BIND": f"127.0.0.1:{port}",
        "GATEHOUSE_LOG": "error",
    }
    command = [binary, "serve"]
    if soft_files:
        command = ["sh", "-c", f'ulimit -Sn {soft_files} && exec "$0" "$@"'] + command
    if hard_files:
        command = ["sh", "-c", f'ulimit -n {hard_files} && exec "$0" "$@"'] + command
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit("the server did not come up")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def memory(binary):
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        server = start(binary, data_dir, port)
        stop = time.time() + 60
        done = [0] * 8

        def client(n):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            while time.time() < stop:
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                done[n] += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        samples = []
        while time.time() < stop:
            samples.append(round(rss_mib(server.pid), 1))
            time.sleep(10)
        for thread in threads:
            thread.join()
        samples.append(round(rss_mib(server.pid), 1))
        server.terminate()
        server.wait()
        total = sum(done)
        print(f"memory: {total} requests in 60 s ({total / 60:.0f}/s), no scraper; RSS MiB every 10 s: {samples}")


def connections(binary, **limits):
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        server = start(binary, data_dir, port, **limits)
        with open(f"/proc/{server.pid}/limits") as limits:
            line = next(l for l in limits if l.startswith("Max open files"))
        print("connections: open-file limit in force:", " ".join(line.split()[3:5]), "(soft, hard)")
        silent = []
        for _ in range(1100):
            s = socket.create_connection(("127.0.0.1", port))
            silent.append(s)
        time.sleep(0.5)
        refused = 0
        for s in silent:
            s.setblocking(False)
            try:
                if s.recv(12).startswith(b"HTTP/1.1 503"):
                    refused += 1
            except (BlockingIOError, OSError):
                pass
        print(f"connections: of 1,100 silent connections {refused} were answered 503 at once (over the cap)")
        started = time.time()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", "/healthz")
            status = connection.getresponse().status
        except OSError as error:
            status = f"error {error}"
        print(f"connections: /healthz beside them: {status} in {(time.time() - started) * 1000:.1f} ms")
        started = time.time()
        open_ones = list(silent)
        while open_ones and time.time() - started < 60:
            still = []
            for s in open_ones:
                s.setblocking(False)
                try:
                    if s.recv(1) == b"":
                        s.close()
                        continue
                except BlockingIOError:
                    still.append(s)
                    continue
                except OSError:
                    s.close()
                    continue
            open_ones = still
            time.sleep(0.2)
        print(f"connections: all 1,100 silent connections closed by the server after {time.time() - started:.1f} s"
              if not open_ones else f"connections: {len(open_ones)} still open after 60 s")
        server.terminate()
        server.wait()


if __name__ == "__main__":
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/gatehouse"
    memory(binary)
    connections(binary, soft_files=1024)
    connections(binary, hard_files=1024)
