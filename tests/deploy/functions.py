"""Custom resources without Docker: the function's inline code, run here against the emulator.

moto answers a ``Custom::`` resource by invoking its Lambda function in a Docker container, which this machine
does not have (EMULATOR_GAPS). So the test does what CloudFormation and Lambda do: it builds the request
CloudFormation sends (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html; every
property value a string), imports the function's ``Code.ZipFile`` as the ``index`` module next to a ``cfnresponse``
with the documented interface
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-lambda-function-code-cfnresponsemodule.html),
runs ``Handler`` with the account's credentials and Region, and hands the response to moto's response endpoint
for the stack that waits for it.
"""

from __future__ import annotations

import json
import sys
import types
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import boto3
import botocore.loaders
import botocore.session

from .emulator import strip_account_host

if TYPE_CHECKING:
    from .stacks import Deployment, Stack


@dataclass
class Response:
    """What the function sent back to CloudFormation for one request."""

    request: dict[str, Any]
    status: str
    reason: str
    physical_id: str | None
    data: dict[str, Any] = field(default_factory=dict)
    delivery_error: str | None = None  # the response could not be handed to the emulator


def as_cloudformation_sends(value: Any) -> Any:
    """CloudFormation passes a custom resource's property values as strings (booleans "true"/"false")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return {k: as_cloudformation_sends(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_cloudformation_sends(v) for v in value]
    return value


def _cfnresponse(sent: list[Response], forward: str | None, account_id: str, region: str) -> types.ModuleType:
    module = types.ModuleType("cfnresponse")
    module.SUCCESS, module.FAILED = "SUCCESS", "FAILED"  # type: ignore[attr-defined]

    def send(event: dict[str, Any], context: Any, responseStatus: str, responseData: dict[str, Any],  # noqa: N803
             physicalResourceId: str | None = None, noEcho: bool = False, reason: str | None = None) -> None:
        status, data, physical_id, no_echo = responseStatus, responseData, physicalResourceId, noEcho
        body = {"Status": status,
                "Reason": reason or f"See the details in CloudWatch Log Stream: {context.log_stream_name}",
                "PhysicalResourceId": physical_id or context.log_stream_name, "StackId": event["StackId"],
                "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"], "NoEcho": no_echo,
                "Data": data}
        response = Response(event, status, body["Reason"], body["PhysicalResourceId"], dict(data))
        sent.append(response)
        if forward:
            # moto's endpoint for custom resource responses reads the account from x-moto-account-id and the
            # Region from the host name; the real module PUTs the same JSON with an empty content type, and only
            # prints a failure to send (the stack then waits: the deployment reports it).
            request = urllib.request.Request(event["ResponseURL"], data=json.dumps(body).encode(), method="PUT",
                                             headers={"content-type": "", "x-moto-account-id": account_id,
                                                      "Host": f"cloudformation.{region}.amazonaws.com"})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    answer.read()
            except OSError as exc:
                response.delivery_error = str(exc)

    module.send = send  # type: ignore[attr-defined]
    return module


@dataclass(frozen=True)
class _Context:
    """The parts of the Lambda context object the inline code may use."""

    function_name: str
    aws_request_id: str
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


# One loader for every function's session: a fresh botocore session would parse the service models (EC2's is
# large) again for each request; credentials still come from each request's environment.
_LOADER = botocore.loaders.create_loader()


@contextmanager
def _default_session(with_hook: bool = True) -> Iterator[None]:
    """A fresh boto3 default session for the function (from the environment), restored afterwards."""
    saved = boto3.DEFAULT_SESSION
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    boto3.setup_default_session(botocore_session=core)
    if with_hook:
        boto3.DEFAULT_SESSION.events.register("before-send.s3-control", strip_account_host)  # type: ignore[union-attr]
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = saved


def invoke(deployment: Deployment, stack: Stack, logical: str, request_type: str, *,
           properties: dict[str, Any] | None = None, old_properties: dict[str, Any] | None = None,
           physical_id: str | None = None, forward: bool = False, request: dict[str, Any] | None = None) -> Response:
    """Send one Create/Update/Delete request for the custom resource ``logical`` of ``stack`` to its function;
    ``request`` is the one moto built (a Create), else the test builds it as CloudFormation documents it."""
    resource = stack.scope.resources[logical]
    props = dict(properties if properties is not None else stack.scope.properties(logical))
    token_ref = (resource.get("Properties") or {}).get("ServiceToken", {}).get("Fn::GetAtt", [None])[0]
    function = stack.scope.resources.get(token_ref or "")
    if function is None or function["Type"] != "AWS::Lambda::Function":
        raise AssertionError(f"{stack.name}/{logical}: the ServiceToken is not a function of the template")
    code = function["Properties"]["Code"]["ZipFile"]
    module_name, handler_name = function["Properties"]["Handler"].split(".", 1)
    region = stack.region
    request_id = str(uuid.uuid4())
    event: dict[str, Any] = {
        "RequestType": request_type, "ServiceToken": props["ServiceToken"],
        "ResponseURL": f"{deployment.emulator.url}/cloudformation_{region}/cfnresponse?stack={quote(stack.stack_id)}",
        "StackId": stack.stack_id, "RequestId": request_id, "LogicalResourceId": logical,
        "ResourceType": resource["Type"], "ResourceProperties": as_cloudformation_sends(props)}
    if request is not None:
        event = {**request, "ResourceProperties": as_cloudformation_sends(request["ResourceProperties"])}
    if request_type != "Create":
        event["PhysicalResourceId"] = physical_id
    if request_type == "Update":
        event["OldResourceProperties"] = as_cloudformation_sends(old_properties or {})
    sent: list[Response] = []
    fake = _cfnresponse(sent, event["ResponseURL"] if forward else None, stack.account_id, region)
    module = types.ModuleType(module_name)
    module.__file__ = f"<{stack.name}/{token_ref} Code.ZipFile>"
    saved = {name: sys.modules.get(name) for name in ("cfnresponse", module_name)}
    sys.modules["cfnresponse"] = fake
    try:
        with deployment.emulator.environment(stack.account_id, region), _default_session():
            exec(compile(code, module.__file__, "exec"), module.__dict__)  # noqa: S102 - the template's own code
            getattr(module, handler_name)(event, _Context(stack.scope.ref(token_ref), request_id))
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    if len(sent) != 1:
        raise AssertionError(f"{stack.name}/{logical}: the function sent {len(sent)} responses for {request_type}")
    return sent[0]
