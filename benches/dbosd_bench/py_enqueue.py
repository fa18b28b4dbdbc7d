"""The official DBOS Python client's enqueue rate, for the dbosd benchmark.

Usage: py_enqueue.py <system database url> <threads> <seconds>. Each thread enqueues `echo` onto
queue `bench_q` in a loop with DBOSClient.enqueue (portable serialization, as dbosd writes) for the
given time; prints `COUNT <n> SECONDS <elapsed>`.
"""

import sys
import threading
import time

from dbos import DBOSClient


def main() -> None:
    url, threads, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    client = DBOSClient(system_database_url=url, system_database_pool_size=max(threads, 5))
    counts = [0] * threads
    start = time.time()
    deadline = start + seconds

    def run(i: int) -> None:
        while time.time() < deadline:
            client.enqueue(
                {"workflow_name": "echo", "queue_name": "bench_q", "serialization_type": "portable"}, i
            )
            counts[i] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(f"COUNT {sum(counts)} SECONDS {time.time() - start:.3f}", flush=True)
    client.destroy()


if __name__ == "__main__":
    main()
