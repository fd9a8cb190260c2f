"""Root-logger setup as the managed runtime does it: Text records tagged with the request id, or JSON."""
import json
import logging
import os
import sys
import time

_state = {"request_id": None}
_LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "WARN": 30, "ERROR": 40, "FATAL": 50}


def set_request_id(request_id):
    _state["request_id"] = request_id


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _state["request_id"] or ""
        return True


class _TextFormatter(logging.Formatter):
    converter = time.gmtime

    def __init__(self):
        super().__init__(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
        )

    def format(self, record):
        # One record stays one line in the log stream.
        return super().format(record).replace("\n", "\r")


class _JsonFormatter(logging.Formatter):
    def format(self, record):
        out = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", ""),
            "location": "%s:%s:%d" % (record.pathname, record.funcName, record.lineno),
        }
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            out["errorType"] = record.exc_info[0].__name__
            out["errorMessage"] = str(record.exc_info[1])
            out["stackTrace"] = traceback.format_tb(record.exc_info[2])
        return json.dumps(out, default=str)


def configure():
    """Returns True when logs are JSON."""
    json_format = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "Text").upper() == "JSON"
    logging.addLevelName(5, "TRACE")
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(_JsonFormatter() if json_format else _TextFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if json_format and level in _LEVELS:
        root.setLevel(_LEVELS[level])
    return json_format
