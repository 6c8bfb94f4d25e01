import os

import django

from controlplane.handlers import AsgiHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does, with the handler of our own
application = AsgiHandler()
