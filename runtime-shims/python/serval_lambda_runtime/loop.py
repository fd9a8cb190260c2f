"""The invoke loop: init (load the handler), then next → handler → response or error, forever."""
import decimal
import json
import os
import sys

from . import errors, logging_setup
from .context import LambdaContext
from .errors import FaultException
from .handler_loader import load_handler
from .runtime_api import RuntimeApiClient


class _Encoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, decimal.Decimal):
            return float(o)
        return super().default(o)


def main():
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    json_logs = logging_setup.configure()
    client = RuntimeApiClient()
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except FaultException as fault:
        error = errors.from_fault(fault)
        _log_error(error, json_logs)
        client.post_init_error(errors.to_json(error), fault.exception_type)
        sys.exit(1)
    while True:
        request_id, headers, body = client.next()
        invoke(client, handler, request_id, headers, body, json_logs)


def invoke(client, handler, request_id, headers, body, json_logs):
    logging_setup.set_request_id(request_id)
    _set_trace_id(headers.get("lambda-runtime-trace-id"))
    try:
        context = _context(request_id, headers)
        try:
            event = json.loads(body) if body else {}
        except ValueError as e:
            raise FaultException(FaultException.UNMARSHAL_ERROR, "Unable to unmarshal input: %s" % e)
        result = handler(event, context)
        try:
            payload = json.dumps(result, cls=_Encoder, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as e:
            raise FaultException(FaultException.MARSHAL_ERROR, "Unable to marshal response: %s" % e)
        client.post_response(request_id, payload)
    except FaultException as fault:
        _report(client, request_id, errors.from_fault(fault, request_id), fault.exception_type, json_logs)
    except Exception as exc:
        error = errors.from_exception(exc, request_id)
        _report(client, request_id, error, error["errorType"], json_logs)


def _context(request_id, headers):
    try:
        client_context = json.loads(headers["lambda-runtime-client-context"]) if headers.get("lambda-runtime-client-context") else None
        cognito = json.loads(headers["lambda-runtime-cognito-identity"]) if headers.get("lambda-runtime-cognito-identity") else None
    except ValueError as e:
        raise FaultException(FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR, "Unable to parse context: %s" % e)
    return LambdaContext(
        request_id,
        client_context,
        cognito,
        headers.get("lambda-runtime-deadline-ms", "0"),
        headers.get("lambda-runtime-invoked-function-arn"),
        headers.get("lambda-runtime-aws-tenant-id"),
    )


def _set_trace_id(trace_id):
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)


def _report(client, request_id, error, error_type, json_logs):
    _log_error(error, json_logs)
    client.post_error(request_id, errors.to_json(error), error_type)


def _log_error(error, json_logs):
    if json_logs:
        record = {"level": "ERROR", "message": error["errorMessage"], "errorType": error["errorType"]}
        record.update({"requestId": error.get("requestId", ""), "stackTrace": error.get("stackTrace", [])})
        sys.stdout.write(json.dumps(record) + "\n")
    else:
        sys.stdout.write(errors.log_line(error) + "\n")
