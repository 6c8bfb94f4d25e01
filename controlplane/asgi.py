import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does, with a handler of our own

from controlplane.handlers import AsgiHandler  # noqa: E402 - needs the settings

application = AsgiHandler()
