"""A cron-style job: on each scheduled event, append a run record to /tmp and report the history.

Invoked with an EventBridge "Scheduled Event"; /tmp persists across invocations of the same environment,
so a warm environment reports every run it has seen.
"""
import json
import logging
import os
import tempfile

logger = logging.getLogger()
logger.setLevel(logging.INFO)
HISTORY = os.path.join(tempfile.gettempdir(), "nightly-report-history.jsonl")


def handler(event, context):
    if event.get("detail-type") != "Scheduled Event":
        raise ValueError("expected an EventBridge Scheduled Event")
    run = {"time": event.get("time"), "requestId": context.aws_request_id}
    with open(HISTORY, "a", encoding="utf-8") as f:
        f.write(json.dumps(run) + "\n")
    with open(HISTORY, encoding="utf-8") as f:
        runs = [json.loads(line) for line in f]
    logger.info("nightly report run %d at %s", len(runs), run["time"])
    return {"runs": len(runs), "lastRun": run["time"], "function": context.function_name}
