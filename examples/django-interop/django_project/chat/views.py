from django.http import HttpResponse

PAGE = """<!doctype html><meta charset="utf-8"><title>Django + Node chat</title>
<ul id="log"></ul><form id="f"><input id="t" autocomplete="off"><button>Send</button></form>
<script>
const ws = new WebSocket(`ws://${location.host}/ws/chat/lobby/`)
ws.onmessage = (e) => { const d = JSON.parse(e.data); const li = document.createElement("li");
  li.textContent = `${d.user}: ${d.message}`; document.getElementById("log").append(li) }
document.getElementById("f").onsubmit = (e) => { e.preventDefault(); const t = document.getElementById("t");
  ws.send(JSON.stringify({ user: "browser", message: t.value })); t.value = "" }
</script>"""


def index(request):
    return HttpResponse(PAGE)
