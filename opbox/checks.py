"""System checks of a deploy's own steps: a release that skipped one says so before it serves.

Deployment checks (`manage.py check --deploy`): a worker node or `migrate` needs no collected static files,
so they are not held up by them; /readyz answers 503 on a web node that lacks them.
"""

from django.core.checks import Error, register

from .staticfiles import manifest_problem


@register(deploy=True)
def check_static_manifest(app_configs, **kwargs):
    problem = manifest_problem()
    if problem is None:
        return []
    hint = "Until then pages link their stylesheet unhashed (unstyled, never a 500) and /readyz answers 503."
    return [Error(problem, hint=hint, id="opbox.E001")]
