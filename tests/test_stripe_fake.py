"""The Stripe fake itself: list pagination, retrieve, authentication, injected failures and request records."""

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from stripe_fake import StripeFake

API_KEY = "sk_test_stripefake"
STRIPE_VERSION = "2026-10-28.endive"


def subscription(number: int, created: int, status: str = "active") -> dict:
    return {
        "id": f"sub_fake{number:02d}", "object": "subscription", "created": created, "status": status,
        # Two customers: cus_fakeodd has the odd-numbered subscriptions.
        "customer": "cus_fakeodd" if number % 2 else "cus_fakeeven",
    }


# Newest first by `created`: sub_fake03, sub_fake05, sub_fake01, sub_fake04 (canceled), sub_fake02.
SUBSCRIPTIONS = [
    subscription(1, 1_773_000_300),
    subscription(2, 1_773_000_100),
    subscription(3, 1_773_000_500),
    subscription(4, 1_773_000_200, status="canceled"),
    subscription(5, 1_773_000_400),
]


def get(fake: StripeFake, path: str, params=(), key: str | None = API_KEY) -> tuple[int, dict, dict]:
    """Send a GET and return (status, JSON body, response headers) for success and error responses alike."""
    url = fake.url + path
    if params:
        url += "?" + urllib.parse.urlencode(list(params))
    headers = {"Stripe-Version": STRIPE_VERSION}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response), dict(response.headers)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error), dict(error.headers)


@pytest.fixture
def fake():
    with StripeFake(api_key=API_KEY, subscriptions=SUBSCRIPTIONS) as running:
        yield running


def ids(page: dict) -> list[str]:
    return [item["id"] for item in page["data"]]


def test_list_pages_newest_first(fake):
    expand = ("expand[]", "data.items.data.price")
    pages = []
    cursor = None
    while True:
        params = [("status", "all"), ("limit", "2"), expand]
        if cursor is not None:
            params.append(("starting_after", cursor))
        status, page, _ = get(fake, "/v1/subscriptions", params)
        assert status == 200
        pages.append(page)
        if not page["has_more"]:
            break
        cursor = page["data"][-1]["id"]

    assert [ids(page) for page in pages] == [["sub_fake03", "sub_fake05"], ["sub_fake01", "sub_fake04"], ["sub_fake02"]]
    assert [page["has_more"] for page in pages] == [True, True, False]
    assert pages[0]["object"] == "list"
    assert pages[0]["url"] == "/v1/subscriptions"


def test_list_default_limit_is_ten(fake):
    fake.subscriptions = [subscription(number, 1_773_000_000 + number) for number in range(1, 13)]

    status, page, _ = get(fake, "/v1/subscriptions")

    assert status == 200
    assert len(page["data"]) == 10
    assert page["has_more"] is True


def test_list_without_status_skips_canceled(fake):
    _, default, _ = get(fake, "/v1/subscriptions")
    _, canceled, _ = get(fake, "/v1/subscriptions", [("status", "canceled")])

    assert ids(default) == ["sub_fake03", "sub_fake05", "sub_fake01", "sub_fake02"]
    assert ids(canceled) == ["sub_fake04"]


def test_list_ending_before_pages_back(fake):
    status, page, _ = get(fake, "/v1/subscriptions", [("status", "all"), ("limit", "2"), ("ending_before", "sub_fake02")])

    assert status == 200
    assert ids(page) == ["sub_fake01", "sub_fake04"]
    assert page["has_more"] is True


@pytest.mark.parametrize(
    "params, param",
    [
        ([("limit", "0")], "limit"),
        ([("limit", "101")], "limit"),
        ([("limit", "ten")], "limit"),
        ([("status", "expired")], "status"),
        ([("starting_after", "sub_missing")], "starting_after"),
        ([("price", "price_x")], "price"),
        ([("expand[]", "data.latest_invoice")], "expand"),
    ],
)
def test_list_rejects_invalid_parameter(fake, params, param):
    status, body, _ = get(fake, "/v1/subscriptions", params)

    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param


def test_list_filters_by_customer(fake):
    status, page, _ = get(fake, "/v1/subscriptions", [("status", "all"), ("customer", "cus_fakeeven")])

    assert status == 200
    assert ids(page) == ["sub_fake04", "sub_fake02"]


def test_list_accepts_indexed_expand(fake):
    # The stripe library sends lists as expand[0]=..., not expand[]=....
    status, _, _ = get(fake, "/v1/subscriptions", [("expand[0]", "data.items.data.price")])

    assert status == 200


def test_retrieve_returns_subscription(fake):
    status, body, _ = get(fake, "/v1/subscriptions/sub_fake04")

    assert status == 200
    assert body == subscription(4, 1_773_000_200, status="canceled")


def test_retrieve_missing_is_404(fake):
    status, body, _ = get(fake, "/v1/subscriptions/sub_missing")

    assert status == 404
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] == "resource_missing"
    assert body["error"]["param"] == "id"
    assert "sub_missing" in body["error"]["message"]


def test_unknown_route_is_404(fake):
    status, body, _ = get(fake, "/v1/customers")

    assert status == 404
    assert body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("key", [None, "sk_test_wrong"])
def test_auth_failure_is_401(fake, key):
    status, body, _ = get(fake, "/v1/subscriptions", key=key)

    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert "sk_test_wrong" not in body["error"]["message"]


def test_injected_429_then_success(fake):
    fake.fail_next(2, status=429, retry_after=3)

    first = get(fake, "/v1/subscriptions")
    second = get(fake, "/v1/subscriptions")
    third = get(fake, "/v1/subscriptions")

    for status, body, headers in (first, second):
        assert status == 429
        assert body["error"]["code"] == "rate_limit"
        assert headers["Retry-After"] == "3"
    assert third[0] == 200


def test_injected_500_precedes_auth(fake):
    fake.fail_next(1, status=500, should_retry=True)

    status, body, headers = get(fake, "/v1/subscriptions", key=None)

    assert status == 500
    assert body["error"]["type"] == "api_error"
    assert headers["Stripe-Should-Retry"] == "true"
    assert get(fake, "/v1/subscriptions", key=None)[0] == 401


def test_requests_are_recorded(fake):
    get(fake, "/v1/subscriptions", [("limit", "3"), ("expand[]", "data.items.data.price")])
    get(fake, "/v1/subscriptions/sub_missing", key="sk_test_wrong")

    first, second = fake.requests

    assert (first.method, first.path, first.status) == ("GET", "/v1/subscriptions", 200)
    assert first.query == {"limit": ["3"], "expand[]": ["data.items.data.price"]}
    assert first.stripe_version == STRIPE_VERSION
    assert first.headers["authorization"] == "<redacted>"
    assert (second.path, second.status) == ("/v1/subscriptions/sub_missing", 401)


def test_subscriptions_replaced_while_running(fake):
    fake.subscriptions = [subscription(9, 1_773_000_900)]

    _, page, _ = get(fake, "/v1/subscriptions")

    assert ids(page) == ["sub_fake09"]


def test_subscriptions_need_id_and_created():
    with pytest.raises(ValueError, match="no string id"):
        StripeFake(api_key=API_KEY, subscriptions=[{"created": 1}])
    with pytest.raises(ValueError, match="integer created"):
        StripeFake(api_key=API_KEY, subscriptions=[{"id": "sub_x"}])
    with pytest.raises(ValueError, match="given twice"):
        StripeFake(api_key=API_KEY, subscriptions=[subscription(1, 1), subscription(1, 2)])


def test_stripe_client_pages_through_fake(fake):
    import stripe

    client = stripe.StripeClient(API_KEY, base_addresses={"api": fake.url}, max_network_retries=0)

    listed = client.v1.subscriptions.list(
        params={"status": "all", "limit": 2, "expand": ["data.items.data.price"]}
    )

    assert [item.id for item in listed.auto_paging_iter()] == [
        "sub_fake03",
        "sub_fake05",
        "sub_fake01",
        "sub_fake04",
        "sub_fake02",
    ]
    assert {request.stripe_version for request in fake.requests} == {stripe.api_version}
    assert len(fake.requests) == 3


def test_stripe_client_raises_typed_errors(fake):
    import stripe

    client = stripe.StripeClient(API_KEY, base_addresses={"api": fake.url}, max_network_retries=0)
    wrong_key = stripe.StripeClient("sk_test_wrong", base_addresses={"api": fake.url}, max_network_retries=0)

    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.subscriptions.retrieve("sub_missing")
    with pytest.raises(stripe.AuthenticationError):
        wrong_key.v1.subscriptions.list()
    fake.fail_next(1, status=429)
    with pytest.raises(stripe.RateLimitError):
        client.v1.subscriptions.list()
    fake.fail_next(1, status=503)
    with pytest.raises(stripe.APIError):
        client.v1.subscriptions.list()

    assert missing.value.code == "resource_missing"
    assert missing.value.http_status == 404


def test_stripe_client_retries_injected_500(fake):
    import stripe

    client = stripe.StripeClient(API_KEY, base_addresses={"api": fake.url}, max_network_retries=2)
    fake.fail_next(2, status=500)

    listed = client.v1.subscriptions.list()

    assert [item.id for item in listed.data] == ["sub_fake03", "sub_fake05", "sub_fake01", "sub_fake02"]
    assert [request.status for request in fake.requests] == [500, 500, 200]
