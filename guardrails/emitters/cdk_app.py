"""``output/cdk/``: a ready AWS CDK app (``app.py``, ``cdk.json``, ``README.md``) for the standard CDK CLI.

The app holds no template of its own: it compiles the blueprint with :class:`guardrails.cdk.GuardrailsApp` when it
runs, so ``cdk synth`` gives ``output/cloudformation/``'s templates (tests/test_cdk.py). Text only, from the plan's
blueprint name: no aws_cdk import here, and the same bytes on every run and machine.
https://docs.aws.amazon.com/cdk/v2/guide/apps.html
"""

from __future__ import annotations

import json

from guardrails.emitters import header_text
from guardrails.policies.ir import Plan

DIRECTORY = "cdk"

_APP = '''\
# {header}
"""The blueprint's organization as an AWS CDK app: every stack of guardrails.cdk.GuardrailsApp, in the documented
deployment order (docs/cdk.md).

    cdk synth                        # from this folder; or `cdk deploy --all`
    cdk synth -c blueprint=PATH      # another blueprint directory (relative to the current folder)
    cdk synth -c verify=false        # build the plan only: no access tests and lockout proof (faster)
    cdk synth -c cdk-nag=true        # add cdk-nag's AwsSolutions checks, with guardrails' acknowledgments

Needs guardrails[cdk] (aws-cdk-lib, constructs) and Node.js 20 or later; cdk-nag for `-c cdk-nag=true`.
`python3 app.py` synthesizes without the CDK CLI, into $CDK_OUTDIR (a temporary folder if unset).
"""

import sys
from pathlib import Path

from guardrails.cdk import GuardrailsApp, add_cdk_nag, new_app
from guardrails.diagnostics import BlueprintError

# The project layout of `guardrails build`: <repo>/<blueprint> compiled into <repo>/output/, this file in output/cdk/.
DEFAULT_BLUEPRINT = Path(__file__).resolve().parent.parent.parent / {name!r}


def flag(app, name, default):
    """A boolean context value (`-c name=true`)."""
    value = app.node.try_get_context(name)
    if value is None:
        return default
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes")


def main():
    app = new_app()
    blueprint = Path(app.node.try_get_context("blueprint") or DEFAULT_BLUEPRINT)
    try:
        built = GuardrailsApp(app, blueprint, verify=flag(app, "verify", True))
    except BlueprintError as error:
        sys.exit("\\n".join([str(error), *(d.render() for d in error.diagnostics)]))
    if flag(app, "cdk-nag", False):
        add_cdk_nag(app, built.plan)
    app.synth()


if __name__ == "__main__":
    main()
'''

_README = '''\
<!-- {header} -->

# CDK app of the blueprint `{name}`

`app.py` adds the organization as CDK stacks (`guardrails.cdk.GuardrailsApp`), in the deployment order of
docs/deploying.md. It compiles `../../{name}` (or `-c blueprint=PATH`) when it runs, so its templates are the ones in
`../cloudformation/`.

```sh
pip install 'guardrails[cdk]'   # and Node.js 20 or later
cdk synth                        # from this folder; `cdk deploy --all` deploys the stacks in order
cdk synth -c cdk-nag=true        # with cdk-nag's AwsSolutions checks (pip install cdk-nag)
```

The member classes' baselines are in the Stage `StackSetTemplates` (`cdk.out/assembly-StackSetTemplates/`): the
StackSets deploy them, `cdk deploy --all` does not. See docs/cdk.md.
'''


def emit(plan: Plan) -> dict[str, str]:
    """``cdk/app.py``, ``cdk/cdk.json`` and ``cdk/README.md``."""
    header = header_text(plan)
    name = plan.blueprint_name or "blueprints"
    settings = {
        "app": "python3 app.py",
        # As new_app(): no AWS::CDK::Metadata resource, no construct paths in the templates, so `cdk synth`
        # gives output/cloudformation/'s templates (https://docs.aws.amazon.com/cdk/v2/guide/cli.html).
        "versionReporting": False,
        "pathMetadata": False,
        "assetMetadata": False,
        "context": {"guardrails:generated": header},
    }
    return {
        f"{DIRECTORY}/app.py": _APP.format(header=header, name=name),
        f"{DIRECTORY}/cdk.json": json.dumps(settings, indent=2) + "\n",
        f"{DIRECTORY}/README.md": _README.format(header=header, name=name),
    }
