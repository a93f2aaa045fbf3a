"""Sluice local Lambda: the Python runtime's bootstrap.

Runs the Lambda Runtime API 2018-06-01 loop against AWS_LAMBDA_RUNTIME_API and
calls the handler named by _HANDLER ("module.function", "dir/module.function"
or "package.module.function") from LAMBDA_TASK_ROOT with (event, context).
Uses only the standard library.
"""

import http.client
import importlib
import json
import os
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"


class LambdaContext:
    """The context object AWS's Python runtime passes to handlers."""

    def __init__(self, request_id, deadline_ms, invoked_arn, trace_id, client_context):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = client_context
        self._deadline_ms = deadline_ms
        self._trace_id = trace_id

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.time() * 1000), 0)


class Client:
    def __init__(self):
        host, _, port = API.rpartition(":")
        self.conn = http.client.HTTPConnection(host, int(port))

    def request(self, method, path, body=None, headers=None):
        self.conn.request(method, BASE + path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, resp.headers, data

    def next(self):
        status, headers, body = self.request("GET", "/invocation/next")
        if status != 200:
            raise RuntimeError("GET next answered %d" % status)
        return headers, body

    def post(self, path, payload, error_type=None):
        headers = {"Content-Type": "application/json"}
        if error_type:
            headers["Lambda-Runtime-Function-Error-Type"] = error_type
        status, _, body = self.request("POST", path, body=payload, headers=headers)
        if status != 202:
            raise RuntimeError("POST %s answered %d: %s" % (path, status, body[:200]))


def error_body(exc, error_type=None):
    tb = traceback.extract_tb(exc.__traceback__)
    return json.dumps({
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_list(tb),
    }).encode()


def load_handler(spec):
    root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    if root not in sys.path:
        sys.path.insert(0, root)
    module_path, _, func_name = spec.rpartition(".")
    if not module_path or not func_name:
        raise ValueError("Bad handler '%s': expected module.function" % spec)
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerError("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (module_name, exc))
    except SyntaxError as exc:
        raise HandlerError("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (module_name, exc))
    fn = getattr(module, func_name, None)
    if fn is None or not callable(fn):
        raise HandlerError("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (func_name, module_name))
    return fn


class HandlerError(Exception):
    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type


def main():
    client = Client()
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except Exception as exc:  # report the init failure, as AWS does, and stop
        error_type = getattr(exc, "error_type", "Runtime.HandlerNotFound")
        print("[ERROR] %s: %s" % (error_type, exc), file=sys.stderr, flush=True)
        try:
            client.post("/init/error", error_body(exc, error_type), error_type)
        finally:
            sys.exit(1)

    while True:
        headers, body = client.next()
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        trace_id = headers.get("Lambda-Runtime-Trace-Id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        client_context = headers.get("Lambda-Runtime-Client-Context")
        context = LambdaContext(
            request_id,
            int(headers.get("Lambda-Runtime-Deadline-Ms", "0")),
            headers.get("Lambda-Runtime-Invoked-Function-Arn"),
            trace_id,
            json.loads(client_context) if client_context else None,
        )
        try:
            event = json.loads(body) if body else {}
            result = handler(event, context)
            try:
                payload = json.dumps(result).encode()
            except (TypeError, ValueError) as exc:
                raise HandlerError("Runtime.MarshalError", "Unable to marshal response: %s" % exc)
        except Exception as exc:
            error_type = getattr(exc, "error_type", None)
            print("[ERROR] %s: %s\n%s" % (error_type or type(exc).__name__, exc, traceback.format_exc()),
                  file=sys.stderr, end="", flush=True)
            sys.stdout.flush()
            client.post("/invocation/%s/error" % request_id, error_body(exc, error_type))
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        client.post("/invocation/%s/response" % request_id, payload)


if __name__ == "__main__":
    main()
