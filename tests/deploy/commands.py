"""The AWS CLI commands the templates' headers and docs/deploying.md give, run against the emulator.

``aws cloudformation deploy`` (a CLI command, not an API) becomes ``Deployment.deploy``; an IMPORT change set
becomes ``Deployment.deploy(..., import_resources=...)`` when it is executed; every other command is the API
operation of its name (``aws organizations enable-aws-service-access --service-principal X`` is
``EnableAWSServiceAccess(ServicePrincipal=X)``), with ``$(aws … --query … --output text)`` substituted first.
An operation moto does not implement (EMULATOR_GAPS) is checked against the service's API model instead.
"""

from __future__ import annotations

import json
import re
import shlex
from fnmatch import fnmatchcase
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import botocore.session
import jmespath
from botocore.validate import ParamValidator

if TYPE_CHECKING:
    from .stacks import Deployment


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]

    @property
    def service(self) -> str:
        return self.argv[1]

    @property
    def operation(self) -> str:
        return self.argv[2]

    def options(self) -> dict[str, list[str]]:
        """``--name value…`` pairs (a flag without a value is ["true"])."""
        out: dict[str, list[str]] = {}
        key = None
        for word in self.argv[3:]:
            if word.startswith("--"):
                key = word[2:]
                out[key] = []
            elif key is None:
                raise ValueError(f"unexpected argument {word!r} in {' '.join(self.argv)}")
            else:
                out[key].append(word)
        return {k: v or ["true"] for k, v in out.items()}

    def __str__(self) -> str:
        return " ".join(self.argv)


def header_commands(text: str) -> list[Command]:
    """The ``aws …`` commands in a template's header comment (continued with a trailing backslash)."""
    commands: list[str] = []
    pending = ""
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        if pending:
            pending += " " + body
        elif body.startswith("aws "):
            pending = body
        else:
            continue
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        commands.append(pending)
        pending = ""
    return [parse(c) for c in commands]


def shell_commands(markdown: str) -> list[Command]:
    """The ``aws …`` commands of the ```sh blocks of a Markdown text, in order."""
    out = []
    for block in re.findall(r"```sh\n(.*?)```", markdown, flags=re.S):
        for command in re.sub(r"\\\n\s*", " ", block).splitlines():
            command = command.split(" #", 1)[0].strip()
            if command.startswith("aws "):
                out.append(parse(command))
    return out


def parse(text: str) -> Command:
    return Command(tuple(shlex.split(text)))


def _pascal(option: str) -> str:
    return "".join(part.capitalize() for part in option.split("-"))


_MODEL = botocore.session.get_session()


def _operation(service: str, operation: str) -> Any:
    model = _MODEL.get_service_model(service)
    wanted = _pascal(operation).lower()
    name = next(n for n in model.operation_names if n.lower() == wanted)
    return model.operation_model(name)


def api_call(command: Command, substitute: Callable[[str], str]) -> tuple[str, str, dict[str, Any], str | None, str]:
    """(service, operation name, parameters, --query, --region) of a command that is one API call."""
    options = command.options()
    region = options.pop("region", [""])[0]
    query = options.pop("query", [None])[0]
    options.pop("output", None)
    model = _operation(command.service, command.operation)
    members = model.input_shape.members if model.input_shape else {}
    params: dict[str, Any] = {}
    for option, values in options.items():
        name = next((m for m in members if m.lower() == option.replace("-", "").lower()), None)
        if name is None:
            raise ValueError(f"{command}: {model.name} has no parameter for --{option}")
        shape = members[name]
        values = [substitute(v) for v in values]
        if shape.type_name == "list":
            params[name] = values
        elif shape.type_name == "boolean":
            params[name] = values[0] == "true"
        elif shape.type_name in ("integer", "long"):
            params[name] = int(values[0])
        else:
            params[name] = values[0]
    return command.service, model.name, params, query, region


def validate(command: Command, substitute: Callable[[str], str]) -> None:
    """Check a command moto cannot run against the API model: the operation exists, every option is one of its
    parameters with a value of the right type, the required ones are given."""
    service, name, params, _, _ = api_call(command, substitute)
    shape = _operation(service, name).input_shape
    report = ParamValidator().validate(params, shape) if shape is not None else None
    if report is not None and report.has_errors():
        raise ValueError(f"{command}: {report.generate_report()}")


def run(deployment: Deployment, account_id: str, command: Command, placeholders: Mapping[str, str],
        unsupported: set[str], pending_import: dict[str, Any], files: Mapping[str, str]) -> Any:
    """Run one command as ``account_id``; ``placeholders`` replace the upper-case words of the docs (KEY_ARN …)."""
    def substitute(value: str) -> str:
        for word, replacement in placeholders.items():
            value = value.replace(word, replacement)
        inner = re.fullmatch(r"\$\((aws .*)\)", value)
        if inner:
            return _text(run(deployment, account_id, parse(inner.group(1)), placeholders, unsupported,
                             pending_import, files))
        return value

    key = f"aws {command.service} {command.operation}"
    options = command.options()
    region = options.get("region", [deployment.home_region])[0]
    if key == "aws cloudformation deploy":
        template = files[f"cloudformation/{options['template-file'][0]}"]
        overrides = dict(substitute(v).split("=", 1) for v in options.get("parameter-overrides", []))
        return deployment.deploy(account_id, region, options["stack-name"][0], template, overrides,
                                 options.get("capabilities", []), group=options["stack-name"][0])
    if key == "aws cloudformation create-change-set":
        if options.get("change-set-type") != ["IMPORT"]:
            raise ValueError(f"{command}: only IMPORT change sets are emulated")
        def local(option: str) -> str:
            return files[f"cloudformation/{options[option][0].removeprefix('file://')}"]

        pending_import[options["stack-name"][0]] = {"template": local("template-body"), "region": region,
                                                    "resources": json.loads(local("resources-to-import"))}
        return None
    if key == "aws cloudformation execute-change-set":
        change = pending_import.pop(options["stack-name"][0])
        return deployment.deploy(account_id, change["region"], options["stack-name"][0], change["template"],
                                 import_resources=change["resources"])
    gap = next((g for g in sorted(unsupported) if fnmatchcase(str(command), g) or fnmatchcase(str(command), g + " *")),
               None)
    if gap is not None:
        validate(command, substitute)
        deployment.gaps_used[gap] += 1
        return None
    service, name, params, query, region = api_call(command, substitute)
    client = deployment.emulator.client(service, account_id, region or deployment.home_region)
    result = client._make_api_call(name, params)  # noqa: SLF001 - the operation by its API name, as the CLI does
    result.pop("ResponseMetadata", None)
    return jmespath.search(query, result) if query else result


def _text(value: Any) -> str:
    """What ``--output text`` prints for a scalar (None prints as "None")."""
    return "None" if value is None else str(value)
