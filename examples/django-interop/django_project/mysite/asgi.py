"""ASGI entry point: HTTP through Django, websockets at /ws/chat/<room>/ through the chat consumer."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (after Django is set up)
from django.urls import re_path  # noqa: E402

from chat.consumers import ChatConsumer  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": URLRouter([re_path(r"^ws/chat/(?P<room>[A-Za-z0-9_.-]+)/$", ChatConsumer.as_asgi())]),
})
