"""Settings of the Django half of the interop example: a chat on Django Channels whose channel
layer is channels_rabbitmq, on the same broker, vhost and groups exchange as the Node side."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "interop-example-not-for-production")
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "daphne",  # `manage.py runserver` serves ASGI, websockets included
    "django.contrib.staticfiles",
    "channels",
    "chat",
]

ROOT_URLCONF = "mysite.urls"
ASGI_APPLICATION = "mysite.asgi.application"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True}]
STATIC_URL = "static/"

# The channel layer both sides share. The Node side uses the same values:
#   RabbitMQ.layer({ url: "amqp://guest:guest@127.0.0.1/asgi", groupsExchange: "groups" })
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_rabbitmq.core.RabbitmqChannelLayer",
        "CONFIG": {
            "host": os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1/asgi"),
            # The defaults, written out: they must match on both sides only for groups_exchange.
            "expiry": 60,
            "local_capacity": 100,
            "remote_capacity": 100,
            "groups_exchange": "groups",
        },
    },
}

LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"channels_rabbitmq": {"handlers": ["console"], "level": "INFO"}},
}
