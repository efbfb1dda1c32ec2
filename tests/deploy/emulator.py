"""moto in server mode on 127.0.0.1 as a multi-account AWS.

Accounts: moto keeps separate state per account id and switches by credentials; ``sts:AssumeRole`` into
``arn:<partition>:iam::<id>:role/<any>`` returns keys of that account (the role need not exist:
https://docs.getmoto.org/en/latest/docs/multi_account.html). The server runs in this process, which the id pins
below rely on.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import boto3

SESSION_ROLE = "OrganizationAccountAccessRole"  # what the test assumes in each account (moto creates no role)
# Seconds a reset may take: on a loaded 2-core machine rebuilding the touched accounts took longer than 10 s.
RESET_TIMEOUT = 120


def free_port() -> int:
    """A port of 127.0.0.1 that was free just now (the OS picks an ephemeral one: no clash between runs)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """A ThreadedMotoServer on a free port of 127.0.0.1 with the AWS managed policies loaded (the baselines attach
    AdministratorAccess, job-function/ViewOnlyAccess …; moto creates them only when asked). In this process, so
    that the patches below reach it; the test run shares one (the ``moto_url`` fixture of tests/conftest.py)."""
    from moto.server import ThreadedMotoServer

    with mock.patch.dict(os.environ, {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}):
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
                        break
                except OSError:
                    time.sleep(0.1)
            else:
                raise RuntimeError("moto server did not start")
            yield url
        finally:
            server.stop()


class Emulator:
    """Sessions into the emulated accounts, and the environment for code that makes its own clients."""

    def __init__(self, url: str, partition: str) -> None:
        self.url = url
        self.partition = partition
        self._credentials: dict[str, dict[str, str]] = {}

    def credentials(self, account_id: str) -> dict[str, str]:
        if account_id not in self._credentials:
            sts = boto3.client("sts", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="testing",
                               aws_secret_access_key="testing")
            arn = f"arn:{self.partition}:iam::{account_id}:role/{SESSION_ROLE}"
            got = sts.assume_role(RoleArn=arn, RoleSessionName="guardrails-deploy-test")["Credentials"]
            self._credentials[account_id] = {"aws_access_key_id": got["AccessKeyId"],
                                             "aws_secret_access_key": got["SecretAccessKey"],
                                             "aws_session_token": got["SessionToken"]}
        return self._credentials[account_id]

    def client(self, service: str, account_id: str, region: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=region, **self.credentials(account_id))

    @contextmanager
    def environment(self, account_id: str, region: str) -> Iterator[None]:
        """Environment variables that make boto3 (a custom resource's code, ``guardrails audit``) act as the account
        in ``region`` against the emulator (``AWS_ENDPOINT_URL``:
        https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html)."""
        creds = self.credentials(account_id)
        values = {"AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
                  "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
                  "AWS_SESSION_TOKEN": creds["aws_session_token"], "AWS_DEFAULT_REGION": region,
                  "AWS_REGION": region, "AWS_ENDPOINT_URL": self.url}
        cleared = ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
        with mock.patch.dict(os.environ, values):
            for name in cleared:
                os.environ.pop(name, None)
            yield


def strip_account_host(request: Any, **_: Any) -> None:
    """S3 Control puts the account id in the endpoint's host name (``<id>.s3-control…``, endpoint rules), which a
    server on 127.0.0.1 cannot be reached under; the id also travels in the ``x-amz-account-id`` header, which is
    what moto reads. Registered on ``before-send.s3-control`` of the default session of the custom resources."""
    parts = urlsplit(request.url)
    first, _, rest = parts.netloc.partition(".")
    if first.isdigit() and len(first) == 12 and rest:
        request.url = urlunsplit(parts._replace(netloc=rest))


@contextmanager
def intercepted_invocations(url: str) -> Iterator[list[dict[str, Any]]]:
    """The requests moto sends to custom resources' functions, instead of running them in Docker (which this
    machine lacks): moto builds the request as CloudFormation would and hands it to ``LambdaFunction.invoke`` in a
    thread; here that records it (tests/deploy/functions.py runs the code), and the response URL in it points at
    this server rather than at moto's guess for a container (``host.docker.internal:5000``)."""
    from moto import settings
    from moto.awslambda.models import LambdaFunction

    requests: list[dict[str, Any]] = []
    where = urlsplit(url)

    def record(self: Any, body: str, request_headers: Any, response_headers: Any) -> str:
        requests.append(json.loads(body))
        return ""

    with mock.patch.object(LambdaFunction, "invoke", record), \
            mock.patch.object(settings, "moto_server_host", return_value=f"{where.scheme}://{where.hostname}"), \
            mock.patch.object(settings, "moto_server_port", return_value=str(where.port)):
        yield requests


@contextmanager
def only_managed_policies(names: set[str]) -> Iterator[None]:
    """IAM in the accounts created meanwhile gets only these AWS managed policies (by name) instead of moto's
    ~1,600, which it builds for every account and again on every reset (seconds each). What the output attaches is
    all a deployment needs; a name AWS does not have is still missing, so attaching it still fails."""
    from moto.iam import models

    data = json.loads(models.aws_managed_policies_data)
    with mock.patch.object(models, "aws_managed_policies_data", json.dumps({k: v for k, v in data.items()
                                                                            if k in names})):
        yield


def reset(url: str) -> None:
    """A fresh emulator, for a test that needs its own state: moto rebuilds every backend before it drops them all
    (accounts and backends are created anew when next used), so IAM's are rebuilt without the managed policies,
    which makes it cheap and changes nothing after it."""
    with only_managed_policies(set()):
        request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=RESET_TIMEOUT).close()


@contextmanager
def regional_pseudo_parameters() -> Iterator[None]:
    """moto resolves ``AWS::Partition`` to ``aws`` and ``AWS::URLSuffix`` to ``amazonaws.com`` in every Region;
    CloudFormation resolves them to the Region's partition (``aws-us-gov`` in GovCloud, ``aws-cn`` and
    ``amazonaws.com.cn`` in China:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html)."""
    from moto.cloudformation.parsing import ResourceMap
    from moto.utilities.utils import get_partition

    init = ResourceMap.__init__

    def regional(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        partition = get_partition(self._region_name)
        self._parsed_resources["AWS::Partition"] = partition
        self._parsed_resources["AWS::URLSuffix"] = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"

    with mock.patch.object(ResourceMap, "__init__", regional):
        yield


@contextmanager
def pinned_ids(accounts: Mapping[str, str], organization: str | None, root: str | None,
               units: Mapping[tuple[str, str], str]) -> Iterator[None]:
    """Make the in-process moto hand out the blueprint's ids: ``accounts`` by e-mail, the organization and root
    ids, and OU ids by (parent id, name). AWS assigns these; the blueprint records what it assigned, and the
    templates name them (trust policies, StackSet account filters, bucket names), so the emulated organization
    must have the same ids. moto has no way to choose them (EMULATOR_GAPS)."""
    from moto.organizations import models, utils

    account_init = models.FakeAccount.__init__
    unit_init = models.FakeOrganizationalUnit.__init__

    def account(self: Any, organization_: Any, **kwargs: Any) -> None:
        pinned = accounts.get(str(kwargs.get("Email", "")).lower())
        if pinned is None:  # an account the blueprint has no id for yet: AWS picks one
            account_init(self, organization_, **kwargs)
            return
        with mock.patch.object(utils, "make_random_account_id", return_value=pinned):
            account_init(self, organization_, **kwargs)

    def unit(self: Any, organization_: Any, **kwargs: Any) -> None:
        unit_init(self, organization_, **kwargs)
        pinned = units.get((kwargs.get("ParentId", ""), kwargs.get("Name", "")))
        if pinned:
            self.id = pinned

    patches = [mock.patch.object(models.FakeAccount, "__init__", account),
               mock.patch.object(models.FakeOrganizationalUnit, "__init__", unit)]
    if organization:
        patches.append(mock.patch.object(utils, "make_random_org_id", return_value=organization))
    if root:
        patches.append(mock.patch.object(utils, "make_random_root_id", return_value=root))
    for patch in patches:
        patch.start()
    try:
        yield
    finally:
        for patch in reversed(patches):
            patch.stop()
