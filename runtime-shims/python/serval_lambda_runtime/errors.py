"""Lambda's error payloads: faults with Runtime.* types, and user exceptions with their stack trace."""
import json
import traceback


class FaultException(Exception):
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

    def __init__(self, exception_type, msg, trace=None):
        super().__init__(msg)
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace or []


def make_error(message, error_type, stack_trace, request_id=None):
    """The shape Lambda's Python runtime returns to the invoker (reference §3.3)."""
    result = {"errorMessage": message or "", "errorType": error_type, "requestId": request_id or ""}
    result["stackTrace"] = stack_trace or []
    return result


def from_fault(fault, request_id=None):
    return make_error(fault.msg, fault.exception_type, fault.trace, request_id)


def from_exception(exc, request_id=None):
    """A user exception; frames from this runtime are cut so the trace starts in user code."""
    frames = traceback.extract_tb(exc.__traceback__)
    while frames and _is_runtime_frame(frames[0].filename):
        frames = frames[1:]
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def to_json(error):
    return json.dumps(error).encode("utf-8")


def log_line(error):
    """The single log record the managed runtime writes for an error; newlines become \\r (one record)."""
    text = "[ERROR] %s: %s" % (error["errorType"], error["errorMessage"])
    if error.get("stackTrace"):
        text += "\nTraceback (most recent call last):\n" + "".join(error["stackTrace"])
    return text.rstrip("\n").replace("\n", "\r")


def _is_runtime_frame(filename):
    return "serval_lambda_runtime" in filename or filename.endswith("bootstrap.py")
