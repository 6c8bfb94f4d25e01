"""A toy item API, plus a few edge-case views."""

import json

from django.http import HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse

ITEMS = {
    1: {"id": 1, "name": "hammer", "tags": ["tools"], "price": 12.5},
    2: {"id": 2, "name": "nails", "tags": ["tools", "small"], "price": 3.0},
    42: {"id": 42, "name": "towel", "tags": ["travel"], "price": 7.25},
}


def items(request):
    if request.method == "POST":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"error": "invalid JSON"}, status=400)
        new_id = max(ITEMS) + 1
        item = {
            "id": new_id,
            "name": str(data.get("name", "")),
            "tags": list(data.get("tags", [])),
            "price": float(data.get("price", 0)),
        }
        ITEMS[new_id] = item
        resp = JsonResponse(item, status=201)
        resp["Location"] = f"/api/items/{new_id}"
        return resp
    limit = int(request.GET.get("limit", "10"))
    tags = request.GET.getlist("tag")
    found = [i for i in ITEMS.values() if not tags or set(tags) & set(i["tags"])]
    resp = JsonResponse({"items": found[:limit], "count": len(found)})
    resp.set_cookie("last_seen", "items")
    return resp


def item_detail(request, item_id):
    item = ITEMS.get(item_id)
    if item is None:
        return JsonResponse({"error": "not found", "id": item_id}, status=404)
    return JsonResponse(item)


def login_form(request):
    # application/x-www-form-urlencoded body
    user = request.POST.get("user", "")
    return JsonResponse({"ok": bool(user), "user": user})


def old_items(request):
    return HttpResponseRedirect("/api/items?limit=1")


def binary(request):
    return HttpResponse(bytes(range(256)), content_type="application/octet-stream")


def stream(request):
    return StreamingHttpResponse(iter([b"a", b"b"]), content_type="text/plain")


def upload(request):
    # multipart/form-data: reading request.FILES consumes the input stream.
    f = request.FILES.get("file")
    return JsonResponse({"size": f.size if f else 0})


def absolute_redirect(request):
    # A header value that contains ':' (see PROTOCOL.md, "Surprises").
    return HttpResponseRedirect("http://127.0.0.1/api/items?limit=1")
