"""The Django consumer: each websocket joins the group ``chat_<room>``; what the user types goes to
the group as ``{"type": "chat.message", "user": ..., "message": ...}``, and every ``chat.message``
the group carries (from Django or from the Node side) goes back out to the websocket."""
from channels.generic.websocket import AsyncJsonWebsocketConsumer


class ChatConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.group = "chat_" + self.scope["url_route"]["kwargs"]["room"]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # Tell the Node side (and everyone else) who is here; the Node bot greets back directly
        # to this consumer's channel, a name like channels_AbCdEfGhIjKl!MnOpQrStUvWx.
        await self.channel_layer.group_send(
            self.group, {"type": "chat.join", "user": "django", "reply_to": self.channel_name}
        )

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content):
        await self.channel_layer.group_send(
            self.group, {"type": "chat.message", "user": content.get("user", "django"), "message": content["message"]}
        )

    # Handlers, by message type ("chat.message" -> chat_message), as the Node side's Consumer.run does.
    async def chat_message(self, event):
        await self.send_json({"user": event["user"], "message": event["message"]})

    async def chat_join(self, event):
        pass  # only the Node bot answers joins

    async def chat_greeting(self, event):
        await self.send_json({"user": event["user"], "message": event["message"]})
