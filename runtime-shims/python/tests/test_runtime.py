"""Unit tests of the Python runtime's pieces; the conformance suite runs it end to end against the agent."""
import json
import logging
import os
import sys
import tempfile
import time
import unittest

from serval_lambda_runtime import errors, logging_setup
from serval_lambda_runtime.context import LambdaContext
from serval_lambda_runtime.errors import FaultException
from serval_lambda_runtime.handler_loader import load_handler


class HandlerLoaderTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        sys.path.insert(0, self.dir)
        with open(os.path.join(self.dir, "good_mod.py"), "w") as f:
            f.write("def handler(event, context):\n    return event\n")

    def tearDown(self):
        sys.path.remove(self.dir)

    def test_loads_a_function(self):
        self.assertEqual(load_handler("good_mod.handler")({"a": 1}, None), {"a": 1})

    def assertFault(self, handler, fault_type, message):
        with self.assertRaises(FaultException) as caught:
            load_handler(handler)
        self.assertEqual(caught.exception.exception_type, fault_type)
        self.assertIn(message, caught.exception.msg)

    def test_faults(self):
        self.assertFault("nodot", FaultException.MALFORMED_HANDLER_NAME, "Bad handler 'nodot'")
        self.assertFault("good_mod.missing", FaultException.HANDLER_NOT_FOUND, "Handler 'missing' missing on module 'good_mod'")
        self.assertFault("no_such_mod.handler", FaultException.IMPORT_MODULE_ERROR, "Unable to import module 'no_such_mod'")
        self.assertFault("sys.handler", FaultException.BUILT_IN_MODULE_CONFLICT, "Cannot use built-in module sys")


class ContextTest(unittest.TestCase):
    def test_remaining_time_is_clamped_at_zero(self):
        past = LambdaContext("id", None, None, int(time.time() * 1000) - 5000, "arn")
        self.assertEqual(past.get_remaining_time_in_millis(), 0)
        future = LambdaContext("id", None, None, int(time.time() * 1000) + 5000, "arn")
        self.assertGreater(future.get_remaining_time_in_millis(), 4000)

    def test_client_context_and_identity_objects(self):
        ctx = LambdaContext(
            "id", {"custom": {"a": 1}, "client": {"app_title": "t"}}, {"cognitoIdentityId": "c1"}, 0, "arn"
        )
        self.assertEqual(ctx.client_context.custom, {"a": 1})
        self.assertEqual(ctx.client_context.client.app_title, "t")
        self.assertIsNone(ctx.client_context.env)
        self.assertEqual(ctx.identity.cognito_identity_id, "c1")
        self.assertIsNone(ctx.identity.cognito_identity_pool_id)

    def test_client_context_that_is_not_an_object(self):
        # A caller may send any JSON; only an object has fields, anything else is no client context.
        self.assertIsNone(LambdaContext("id", [1, 2], None, 0, "arn").client_context)
        self.assertIsNone(LambdaContext("id", "x", None, 0, "arn").client_context)
        ctx = LambdaContext("id", {"client": "x", "custom": {}}, None, 0, "arn")
        self.assertIsNone(ctx.client_context.client)
        self.assertEqual(ctx.client_context.custom, {})


class ErrorsTest(unittest.TestCase):
    def test_exception_shape(self):
        try:
            {}["action"]
        except KeyError as e:
            err = errors.from_exception(e, "req-1")
        self.assertEqual(err["errorType"], "KeyError")
        self.assertEqual(err["errorMessage"], "'action'")
        self.assertEqual(err["requestId"], "req-1")
        self.assertIn("test_runtime.py", err["stackTrace"][0])
        self.assertEqual(json.loads(errors.to_json(err)), err)

    def test_log_line_is_one_record(self):
        line = errors.log_line(errors.make_error("boom", "ValueError", ["  File \"x\", line 1\n"]))
        self.assertNotIn("\n", line)
        self.assertTrue(line.startswith("[ERROR] ValueError: boom\rTraceback (most recent call last):\r"))


class LoggingTest(unittest.TestCase):
    def test_text_record_carries_request_id_and_stays_on_one_line(self):
        os.environ["AWS_LAMBDA_LOG_FORMAT"] = "Text"
        logging_setup.configure()
        logging_setup.set_request_id("req-9")
        handler = logging.getLogger().handlers[0]
        record = logging.LogRecord("root", logging.INFO, __file__, 1, "a\nb", None, None)
        handler.filter(record)
        text = handler.format(record)
        self.assertRegex(text, r"^\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\treq-9\ta\rb$")

    def test_json_record(self):
        os.environ["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        os.environ["AWS_LAMBDA_LOG_LEVEL"] = "WARN"
        try:
            logging_setup.configure()
            self.assertEqual(logging.getLogger().level, logging.WARNING)
            handler = logging.getLogger().handlers[0]
            record = logging.LogRecord("app", logging.WARNING, __file__, 7, "careful", None, None)
            handler.filter(record)
            out = json.loads(handler.format(record))
            self.assertEqual(out["level"], "WARNING")
            self.assertEqual(out["message"], "careful")
            self.assertEqual(out["logger"], "app")
            self.assertIn("requestId", out)
        finally:
            del os.environ["AWS_LAMBDA_LOG_LEVEL"]
            os.environ["AWS_LAMBDA_LOG_FORMAT"] = "Text"
            logging.getLogger().setLevel(logging.WARNING)


if __name__ == "__main__":
    unittest.main()
