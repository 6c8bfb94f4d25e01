import uuid

from apimodel import PathHints
from apimodel.paths import param_name, singular

UUIDS = [str(uuid.UUID(int=i * 7919 + 1, version=4)) for i in range(5)]


def test_it_turns_integer_ids_into_a_parameter(templates_of) -> None:
    assert templates_of([f"https://a.example/users/{i}" for i in (1, 22, 333)]) == {"/users/{user_id}"}


def test_it_keeps_users_me_static_beside_user_ids(templates_of) -> None:
    urls = [f"https://a.example/users/{u}" for u in UUIDS] + ["https://a.example/users/me"]
    assert templates_of(urls) == {"/users/{user_id}", "/users/me"}


def test_it_keeps_distinct_static_routes(templates_of) -> None:
    urls = [f"https://a.example/v1/{word}" for word in ("users", "orders", "products", "carts", "search")]
    assert templates_of(urls) == {f"/v1/{word}" for word in ("users", "orders", "products", "carts", "search")}


def test_it_keeps_version_prefixes_static(templates_of) -> None:
    assert templates_of(["https://a.example/api/v2/items/7", "https://a.example/api/v3/items/8"]) == {
        "/api/v2/items/{item_id}",
        "/api/v3/items/{item_id}",
    }


def test_it_names_nested_parameters_after_their_collections(templates_of) -> None:
    urls = [f"https://a.example/orders/{o}/items/{u}" for o, u in zip((1, 2, 3), UUIDS, strict=False)]
    assert templates_of(urls) == {"/orders/{order_id}/items/{item_id}"}


def test_it_allows_consecutive_parameters(templates_of) -> None:
    urls = [f"https://a.example/files/{u}/{n}" for u, n in zip(UUIDS, (1, 2, 3), strict=False)]
    assert templates_of(urls) == {"/files/{file_id}/{param}"}


def test_it_templates_file_like_segments(templates_of) -> None:
    urls = [
        "https://a.example/reports/17.csv",
        "https://a.example/reports/18.csv",
        "https://a.example/reports/summary.csv",
    ]
    assert templates_of(urls) == {"/reports/{report_id}.csv", "/reports/summary.csv"}


def test_it_folds_many_look_alike_words_into_a_parameter(templates_of) -> None:
    names = ["ada", "grace", "alan", "linus", "guido", "barbara", "edsger", "donald", "ken", "dennis", "margaret"]
    urls = [f"https://a.example/users/{name}" for name in names]
    assert templates_of(urls) == {"/users/{user_id}"}


def test_it_folds_owners_then_repositories(templates_of) -> None:
    pairs = [(f"owner{c}", f"project{c}") for c in "abcdefghijkl"]
    urls = [f"https://a.example/repos/{owner}/{repo}/issues" for owner, repo in pairs]
    assert templates_of(urls) == {"/repos/{repo_id}/{param}/issues"}


def test_it_does_not_fold_collections_at_the_root(templates_of) -> None:
    words = ["users", "orders", "products", "carts", "invoices", "refunds", "payments", "coupons", "stores", "reviews"]
    urls = [f"https://a.example/{word}/{i}" for i, word in enumerate(words)]
    assert templates_of(urls) == {f"/{word}/{{{singular(word)}_id}}" for word in words}


def test_it_bounds_children_per_node(templates_of) -> None:
    urls = [f"https://a.example/v1/tags/word{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(300)]
    assert templates_of(urls) == {"/v1/tags/{tag_id}"}


def test_it_lets_forced_templates_win(templates_of) -> None:
    hints = PathHints(force=["/users/{login}/avatar"])
    assert templates_of(["https://a.example/users/ada/avatar"], hints) == {"/users/{login}/avatar"}


def test_it_keeps_hinted_static_paths_static(templates_of) -> None:
    names = ["ada", "grace", "alan", "linus", "guido", "barbara", "edsger", "donald", "ken", "dennis", "margaret"]
    urls = [f"https://a.example/users/{name}" for name in names]
    assert templates_of(urls, PathHints(static=["/users/ada"])) == {"/users/{user_id}", "/users/ada"}


def test_it_hides_hinted_endpoints(templates_of) -> None:
    urls = ["https://a.example/admin/stats", "https://a.example/users/1/secrets", "https://a.example/users/1"]
    hints = PathHints(hidden=["/admin", "/users/{id}/secrets"])
    assert templates_of(urls, hints) == {"/users/{user_id}"}


def test_it_hides_health_checks_and_assets_by_default(templates_of) -> None:
    urls = [
        "https://a.example/healthz",
        "https://a.example/static/app.js",
        "https://a.example/favicon.ico",
        "https://a.example/api/x",
    ]
    assert templates_of(urls) == {"/api/x"}
    assert len(templates_of(urls, PathHints(show_default_hidden=True))) == 4


def test_it_keeps_trailing_slashes_and_the_root(templates_of) -> None:
    assert templates_of(["https://a.example/", "https://a.example/users/"]) == {"/", "/users/"}


def test_it_names_parameters() -> None:
    assert [
        param_name(p) for p in ("users", "categories", "addresses", "boxes", "statuses", "v1", None, "Big-Things")
    ] == [
        "user_id",
        "category_id",
        "address_id",
        "box_id",
        "status_id",
        "param",
        "param",
        "big_thing_id",
    ]


def test_it_needs_more_look_alikes_under_a_singular_word(templates_of) -> None:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo"]
    assert len(templates_of([f"https://a.example/api/{word}" for word in words])) == len(words)
    slugs = [f"post-number-{word}" for word in words * 3]
    slugs = [f"{slug}-{i}" for i, slug in enumerate(slugs)]
    assert templates_of([f"https://a.example/blog/{slug}" for slug in slugs]) == {"/blog/{blog_id}"}


def test_it_treats_code_like_ids_as_parameters(templates_of) -> None:
    assert templates_of(["https://a.example/invoices/INV-00123", "https://a.example/invoices/INV-00124"]) == {
        "/invoices/{invoice_id}"
    }


def test_a_segment_that_a_body_names_is_a_value_even_seen_once(make_entry, model_of) -> None:
    entries = [
        make_entry(url="https://a.example/licenses", response_json=[{"key": "mit"}, {"key": "gpl-3.0"}]),
        make_entry(url="https://a.example/licenses/mit", response_json={"key": "mit", "name": "MIT License"}),
        make_entry(url="https://a.example/licenses/popular", response_json=[{"key": "mit"}]),
    ]
    assert {e["path"] for e in model_of(entries)["endpoints"]} == {
        "/licenses",
        "/licenses/{license_id}",
        "/licenses/popular",
    }


def test_percent_encoded_segments_are_values(templates_of) -> None:
    urls = ["https://a.example/users/%5Bsop%5Drocky/playlists", "https://a.example/users/me"]
    assert templates_of(urls) == {"/users/{user_id}/playlists", "/users/me"}


def test_siblings_sharing_a_format_of_their_own_with_digits_are_ids(templates_of) -> None:
    ids = ["0vk-kph-3ri", "hvb-for-lpm", "abc-def-ghi"]
    urls = [f"https://a.example/rules/{i}" for i in ids] + ["https://a.example/rules/validation"]
    assert templates_of(urls) == {"/rules/{rule_id}", "/rules/validation"}
    words = ["made-up-id", "get-all-ids"]  # no digit: nothing says these are minted
    assert templates_of([f"https://a.example/rules/{w}" for w in words]) == {f"/rules/{w}" for w in words}


def test_a_lone_segment_in_the_format_of_the_apis_ids_is_an_id(templates_of) -> None:
    urls = [f"https://a.example/rules/{i}" for i in ("0vk-kph-3ri", "shm-tx8-e8x")]
    urls += ["https://a.example/tests/network/c7a-uwa-wn2", "https://a.example/tests/top-ten-all"]
    # without a digit, a word in that format stays a word
    assert templates_of(urls) == {"/rules/{rule_id}", "/tests/network/{network_id}", "/tests/top-ten-all"}


def test_a_word_in_the_format_of_its_siblings_ids_is_an_id(templates_of) -> None:
    # cus_JGwHbSlIvxVtff has no digit, so alone it reads as a word; its siblings' ids have its format
    ids = ["cus_HwGDNK3PKM6Ryk", "cus_Qm5LrT8vWx2Zab", "cus_JGwHbSlIvxVtff"]
    urls = [f"https://a.example/v1/customers/{i}" for i in ids] + ["https://a.example/v1/customers/search"]
    assert templates_of(urls) == {"/v1/customers/{customer_id}", "/v1/customers/search"}


def test_versions_in_the_first_segment_stay_static(templates_of) -> None:
    urls = ["https://a.example/2/tweets/1460323737035677698", "https://a.example/2/tweets/1460323737035677699"]
    urls += ["https://a.example/1.1/statuses/show.json", "https://a.example/3/users"]
    assert templates_of(urls) == {"/2/tweets/{tweet_id}", "/1.1/statuses/show.json", "/3/users"}


def test_siblings_with_the_same_sub_routes_are_values(templates_of) -> None:
    urls = [f"https://a.example/users/{name}/playlists/{i}" for i, name in enumerate(["ada", "alan", "grace"], 7)]
    urls += ["https://a.example/users/alan/playlists", "https://a.example/users/me"]
    assert templates_of(urls) == {
        "/users/{user_id}/playlists/{playlist_id}",
        "/users/{user_id}/playlists",
        "/users/me",
    }


def test_five_repositories_with_the_same_sub_routes_give_one_template_each(templates_of) -> None:
    repos = [("octo", "hello"), ("torvalds", "linux"), ("python", "cpython"), ("rails", "rails"), ("ada", "notes")]
    routes = ["", "/pulls", "/issues", "/commits", "/branches", "/contributors"]
    urls = [f"https://a.example/repos/{owner}/{repo}{route}" for owner, repo in repos for route in routes]
    urls += [f"https://a.example/repos/{owner}/{repo}/pulls/{n}" for n, (owner, repo) in enumerate(repos, 1)]
    assert templates_of(urls) == {f"/repos/{{repo_id}}/{{param}}{route}" for route in routes} | {
        "/repos/{repo_id}/{param}/pulls/{pull_id}"
    }


def test_routes_that_recur_under_several_values_of_a_parameter_stay(templates_of) -> None:
    urls = [f"https://a.example/users/{i}/{word}/export.csv" for i in (1, 2) for word in ("settings", "billing")]
    assert templates_of(urls) == {"/users/{user_id}/settings/export.csv", "/users/{user_id}/billing/export.csv"}


def test_parallel_routes_that_answer_differently_stay(make_entry, model_of) -> None:
    fields = {"okta": ["domain", "client_id", "client_secret", "auth_method"], "fastly": ["services", "region"]}
    entries = [
        make_entry(
            "POST",
            f"https://a.example/integrations/{name}/accounts",
            201,
            response_json={"api_key": "k", **{n: "v" for n in names}},
        )
        for name, names in fields.items()
    ]
    assert {e["path"] for e in model_of(entries)["endpoints"]} == {
        "/integrations/okta/accounts",
        "/integrations/fastly/accounts",
    }


def test_collections_side_by_side_stay(templates_of) -> None:
    urls = [f"https://a.example/synthetics/{c}/{action}" for c in ("suites", "tests") for action in ("search", "bulk")]
    assert templates_of(urls) == {f"/synthetics/{c}/{a}" for c in ("suites", "tests") for a in ("search", "bulk")}


def test_many_siblings_that_answer_differently_are_routes(make_entry, model_of) -> None:
    words = ["hosts", "logs", "rum", "fargate", "iot", "cws", "dbm", "sds", "snmp", "profiling", "timeseries"]
    entries = [
        make_entry(url=f"https://a.example/usage/{w}", response_json={"usage": [{f"{w}_count": 1, f"{w}_hour": "h"}]})
        for w in words
    ]
    assert len(model_of(entries)["endpoints"]) == len(words)
    entries = [make_entry(url=f"https://a.example/users/{w}", response_json={"login": "x", "bio": "y"}) for w in words]
    assert {e["path"] for e in model_of(entries)["endpoints"]} == {"/users/{user_id}"}


def test_a_word_that_failed_like_a_missing_id_beside_its_parameter_is_a_value(make_entry, model_of) -> None:
    entries = [make_entry(url=f"https://a.example/api_keys/{u}") for u in UUIDS[:2]]
    entries += [make_entry("DELETE", f"https://a.example/api_keys/{UUIDS[2]}", 204)]
    entries += [make_entry(url="https://a.example/api_keys/invalidId", status=404)]
    entries += [make_entry("DELETE", "https://a.example/api_keys/not-a-key", status=400)]
    assert {e["path"] for e in model_of(entries)["endpoints"]} == {"/api_keys/{api_key_id}"}


def test_a_word_that_failed_for_other_reasons_stays_a_route(make_entry, model_of) -> None:
    entries = [make_entry(url=f"https://a.example/invoices/{u}?expand[]=lines") for u in UUIDS[:2]]
    entries += [make_entry(url="https://a.example/users/1"), make_entry(url="https://a.example/jobs/7")]
    entries += [
        make_entry(url="https://a.example/invoices/upcoming", status=400),  # asked without what ids always send
        make_entry(url="https://a.example/users/me", status=401),  # a failed login says nothing of the path
        make_entry("POST", "https://a.example/jobs/convert", status=404),  # no job id was ever POSTed to
    ]
    assert {e["path"] for e in model_of(entries)["endpoints"]} == {
        "/invoices/{invoice_id}",
        "/invoices/upcoming",
        "/users/{user_id}",
        "/users/me",
        "/jobs/{job_id}",
        "/jobs/convert",
    }


def test_a_word_with_a_long_number_in_it_is_a_generated_name(templates_of) -> None:
    urls = ["https://a.example/slo/testdeleteansloreturnsnotfound1704322485", "https://a.example/slo/search"]
    urls += ["https://a.example/v2/oauth2/token", "https://a.example/reports/q3-2024"]
    assert templates_of(urls) == {"/slo/{slo_id}", "/slo/search", "/v2/oauth2/token", "/reports/q3-2024"}


def test_many_routes_below_a_parameter_stay_when_they_recur_under_several_of_its_values(templates_of) -> None:
    words = ["followers", "following", "repos", "gists", "starred", "orgs", "events", "keys", "hooks", "teams", "pins"]
    urls = [f"https://a.example/users/{i}/{word}" for i in (1, 2) for word in words]
    assert templates_of(urls) == {f"/users/{{user_id}}/{word}" for word in words}
    urls = [f"https://a.example/users/{i}/{word}" for i, word in enumerate(words)]  # each once: looks like values
    assert templates_of(urls) == {"/users/{user_id}/{param}"}


def test_a_parameter_found_by_one_rule_lets_another_find_more_values(make_entry, model_of) -> None:
    entries = [
        make_entry(url="https://a.example/org_configs/custom_roles", response_json={"data": {"name": "custom_roles"}}),
        make_entry(url="https://a.example/org_configs/i_dont_exist", status=404),
        make_entry(url="https://a.example/org_configs"),
    ]
    assert {e["path"] for e in model_of(entries)["endpoints"]} == {"/org_configs", "/org_configs/{org_config_id}"}


def test_routes_of_one_object_with_the_same_sub_routes_stay(templates_of) -> None:
    # seen under one user only: two routes of that user, not two values
    urls = [f"https://a.example/users/7/{word}/export.csv" for word in ("search", "archive")]
    assert templates_of(urls) == {"/users/{user_id}/search/export.csv", "/users/{user_id}/archive/export.csv"}


def test_versions_stay_static_where_versions_live(templates_of) -> None:
    urls = ["https://a.example/api/0/projects/acme/", "https://a.example/api/0/organizations/"]
    urls += ["https://a.example/rest/api/3/issue/10001", "https://a.example/rest/api/3/issue/10002"]
    urls += ["https://a.example/2010-04-01/Accounts/AC9f86d081884c7d659a2feaa0c55ad015.json"]
    assert templates_of(urls) == {
        "/api/0/projects/acme/",
        "/api/0/organizations/",
        "/rest/api/3/issue/{issue_id}",
        "/2010-04-01/Accounts/{account_id}.json",
    }


def test_numbers_side_by_side_where_versions_live_are_ids(templates_of) -> None:
    urls = [f"https://a.example/dashboard/{i}" for i in (5, 6)] + ["https://a.example/users/7"]
    assert templates_of(urls) == {"/dashboard/{dashboard_id}", "/users/{user_id}"}
    # a version is seen alone; one number under a word cannot be told from it
    assert templates_of(["https://a.example/dashboard/5"]) == {"/dashboard/5"}


def test_a_name_a_body_gave_elsewhere_is_a_value_here(make_entry, model_of) -> None:
    entries = [
        make_entry(url="https://a.example/users/ada", response_json={"login": "ada"}),
        make_entry("PUT", "https://a.example/user/following/ada", 204),
        make_entry("DELETE", "https://a.example/teams/7/members/ada", 204),
        # a name that is also a route: it recurs under several values of the parameter above it
        make_entry(url="https://a.example/orgs/actions", response_json={"login": "actions"}),
        make_entry(url="https://a.example/repos/7/actions/runs/1"),
        make_entry(url="https://a.example/repos/8/actions/runs/2"),
        # or further below them
        make_entry(url="https://a.example/domains/default", response_json={"id": "default"}),
        make_entry(url="https://a.example/apps/7/connections/default"),
        make_entry(url="https://a.example/apps/8/connections/default"),
    ]
    assert {e["path"] for e in model_of(entries)["endpoints"]} == {
        "/users/{user_id}",
        "/user/following/{following_id}",
        "/teams/{team_id}/members/{member_id}",
        "/orgs/{org_id}",
        "/repos/{repo_id}/actions/runs/{run_id}",
        "/domains/{domain_id}",
        "/apps/{app_id}/connections/default",
    }


def test_capitalised_names_are_values_where_routes_are_not_capitalised(templates_of) -> None:
    urls = ["https://a.example/orgs/7/members/Lyloa", "https://a.example/apps/8/features/USER_PROVISIONING"]
    urls += ["https://a.example/apps/8/features", "https://a.example/apps/9/agentPools"]
    assert templates_of(urls) == {
        "/orgs/{org_id}/members/{member_id}",
        "/apps/{app_id}/features/{feature_id}",
        "/apps/{app_id}/features",
        "/apps/{app_id}/agentPools",
    }
    # where routes are capitalised, capitals say nothing
    urls = [f"https://a.example/Accounts/{i}/Calls/Summary" for i in (1, 2)] + ["https://a.example/Accounts/1/SIP"]
    assert templates_of(urls) == {"/Accounts/{account_id}/Calls/Summary", "/Accounts/{account_id}/SIP"}


def test_a_long_number_where_versions_live_is_an_id(templates_of) -> None:
    assert templates_of(["https://a.example/user/583231", "https://a.example/api/2024/items"]) == {
        "/user/{user_id}",
        "/api/2024/items",
    }
    # and a small number beside such ids is one of them
    assert templates_of(["https://a.example/search/10", "https://a.example/search/583231"]) == {"/search/{search_id}"}


def test_a_sub_route_shared_at_another_depth_says_nothing(templates_of) -> None:
    # `credentials/keys` has `keys` right below it; the idps' ids have it one segment further down
    urls = [f"https://a.example/idps/{i}/credentials/keys" for i in (1, 2)] + [
        "https://a.example/idps/credentials/keys"
    ]
    assert templates_of(urls) == {"/idps/{idp_id}/credentials/keys", "/idps/credentials/keys"}


def test_values_with_and_without_an_extension_are_file_names(templates_of) -> None:
    urls = [f"https://a.example/contents/{name}" for name in ("1.md", "2.md", "3.txt", "4")]
    assert templates_of(urls) == {"/contents/{content_id}"}
    # always with the same extension, it is the format asked for
    urls = [f"https://a.example/Calls/{i}.json" for i in (5, 6)]
    assert templates_of(urls) == {"/Calls/{call_id}.json"}


def test_a_version_a_body_names_away_from_where_versions_live_is_a_value(make_entry, model_of) -> None:
    entries = [
        make_entry(url="https://a.example/repos/7/releases/tags/v1.0.0", response_json={"tag_name": "v1.0.0"}),
        make_entry(url="https://a.example/api/v2/repos/7", response_json={"name": "v2"}),  # where versions live
    ]
    assert {e["path"] for e in model_of(entries)["endpoints"]} == {
        "/repos/{repo_id}/releases/tags/{tag_id}",
        "/api/v2/repos/{repo_id}",
    }
