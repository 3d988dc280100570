import base64, os, json
from tests.conftest import csrf_token

async def test_probe(client, db, world):
    tok = await csrf_token(client)
    h = {"x-csrftoken": tok}
    r = await client.post("/login/verify", json={}, headers=h)
    print("noopt", r.status_code, r.headers.get("content-type"), r.text[:200], r.headers.get_list("set-cookie"))
    r = await client.post("/login/options", json={}, headers=h)
    print("opt", r.status_code, r.text[:200], r.headers.get_list("set-cookie"))
    rb = lambda n: base64.urlsafe_b64encode(os.urandom(n)).decode().rstrip("=")
    bodies = [{}, {"credential": "x"}, {"credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}},
      {"credential": {"id": rb(32), "rawId": rb(32), "type": "public-key", "response": {"clientDataJSON": rb(100), "authenticatorData": rb(37), "signature": rb(64), "userHandle": rb(32)}}},
      {"credential": "A"*2_000_000}, [1,2], "str", None, 5]
    for b in bodies:
        await client.post("/login/options", json={}, headers=h)
        r = await client.post("/login/verify", json=b, headers=h)
        print(str(b)[:60], r.status_code, r.headers.get("content-type"), r.text[:150])
    r = await client.post("/login/verify", content=b"{not json", headers={**h, "content-type": "application/json"})
    print("badjson", r.status_code, r.headers.get("content-type"), r.text[:150])
    r = await client.post("/login/verify", content=b"A"*20_000_000, headers={**h, "content-type": "application/json"})
    print("huge raw", r.status_code, r.headers.get("content-type"), r.text[:150])
    r = await client.get("/home", follow_redirects=False)
    print("home", r.status_code, r.headers.get("location"))
    r = await client.post("/login/verify", json={}, headers={})
    print("nocsrf", r.status_code, r.headers.get("content-type"))
    r = await client.post("/enroll/verify", json={}, headers=h)
    print("enroll", r.status_code, r.headers.get("content-type"), r.text)
    assert 0
