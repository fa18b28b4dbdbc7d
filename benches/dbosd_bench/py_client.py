"""The official DBOS Python client's waits, driven over stdin by the dbosd benchmark.

Commands (one per line): `result <workflow_id>` waits with get_result(); `event <workflow_id> <key>`
waits with get_event(). Before waiting it prints `WAITING <id>`; when the wait returns it prints
`GOT <id> <epoch ms>` so the benchmark can compute the wake-up latency on the same clock.
"""

import sys
import time

from dbos import DBOSClient


def main() -> None:
    client = DBOSClient(system_database_url=sys.argv[1])
    print("READY", flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "result":
            handle = client.retrieve_workflow(parts[1])
            print(f"WAITING {parts[1]}", flush=True)
            handle.get_result()
        elif parts[0] == "event":
            print(f"WAITING {parts[1]}", flush=True)
            client.get_event(parts[1], parts[2], timeout_seconds=30)
        print(f"GOT {parts[1]} {time.time() * 1000:.3f}", flush=True)
    client.destroy()


if __name__ == "__main__":
    main()
