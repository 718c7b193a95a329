"""The OpenAI-compatible server back-end against real HTTP servers on loopback.

Most tests use the stub server with a toy LM whose log-probabilities have a closed form;
the ``llm`` tests serve the embedded model and compare with ``LocalLM`` directly.
"""

from __future__ import annotations

import email.utils
import pickle
import socket
import time

import numpy as np
import pytest
from openai_stub import ByteToyLM, ToyLM, serve

import proxyspex as px
from proxyspex.errors import PartialOutputError
from proxyspex.models import OpenAICompatible, ServerError, resolve_model
from proxyspex.models.openai.identity import PROBE_PROMPT

PROMPTS = ["Review: good film\nSentiment:", "Review: a bad one\nSentiment:", "Is it good?"]
OPTIONS = [" positive", " negative"]
FAST = {"backoff": 0.001, "max_backoff": 0.01, "random_state": 0}


@pytest.fixture
def toy():
    return ToyLM()


@pytest.fixture
def stub(toy):
    with serve(toy) as server:
        yield server


def client(stub, **kwargs) -> OpenAICompatible:
    return OpenAICompatible(stub.url, **{**FAST, **kwargs})


def completions(stub) -> list[dict]:
    """The /completions payloads, without the identity probe sent at construction."""
    return [r["payload"] for r in stub.requests if r["path"].endswith("/completions")
            and not (r["payload"].get("prompt") == PROBE_PROMPT and "logprobs" not in r["payload"])]


def test_echo_scores_equal_the_reference_and_are_detected_once(stub, toy):
    lm = client(stub, scoring="echo")
    targets = [" positive", " very good", " positive x"]  # in-vocabulary, multi-token, unknown
    for target in targets:
        np.testing.assert_allclose(
            lm.score(PROMPTS, target), [toy.score(p, target) for p in PROMPTS], rtol=0, atol=1e-12
        )
    expected = [[toy.score(p, o) for o in OPTIONS] for p in PROMPTS]
    np.testing.assert_allclose(lm.score_options(PROMPTS, OPTIONS), expected, rtol=0, atol=1e-12)
    assert lm.method == "echo" and lm.model == "toy-lm"
    sent = completions(stub)
    assert len(sent) == 3 * len(PROMPTS) + len(PROMPTS) * len(OPTIONS)  # scoring='echo': no detection
    assert all(p["echo"] is True and p["max_tokens"] == 0 and p["logprobs"] == 1 for p in sent)
    assert all(p["model"] == "toy-lm" and p["temperature"] == 0 for p in sent)
    assert lm.score([], " positive").shape == (0,)
    assert lm.score_options([], OPTIONS).shape == (0, 2)


def test_auto_reads_single_token_targets_from_top_logprobs(stub, toy):
    """Item 16: one max_tokens=1 request per prompt serves every single-token option; the values
    are the echo path's; multi-token targets are still echoed."""
    prompts = PROMPTS * 3
    lm = client(stub)
    expected = [[toy.score(p, o) for o in OPTIONS] for p in prompts]
    np.testing.assert_allclose(lm.score_options(prompts, OPTIONS), expected, rtol=0, atol=1e-12)
    sent = completions(stub)
    echoes = [p for p in sent if p.get("echo")]
    tops = [p for p in sent if not p.get("echo")]
    # the probe and the first row learn that both options are one token; every other row: one request
    assert len(echoes) == 1 + len(OPTIONS) and len(tops) == len(prompts) - 1
    assert all(p["max_tokens"] == 1 and p["logprobs"] == 20 for p in tops)
    np.testing.assert_allclose(lm.score(prompts, " very good"), [toy.score(p, " very good") for p in prompts])
    assert all(p.get("echo") for p in completions(stub)[len(sent):])  # two tokens: echo only


def test_byte_pieces_at_the_boundary_are_target_tokens():
    """Item 5: a token that ends inside a character is echoed as '' with the next token's
    offset, like vLLM does; it holds target bytes and must be summed."""
    toy = ByteToyLM()
    with serve(toy) as stub:
        lm = client(stub, scoring="echo")
        for prompt, target in [("Emoji:", " 😀🎉"), ("日本の首都は", "東京です"), ("Note:", " café")]:
            assert lm.score([prompt], target)[0] == pytest.approx(toy.score(prompt, target), abs=1e-12)
        forced = client(stub, scoring="top_logprobs")
        with pytest.raises(ValueError, match="starts with none of"):
            forced.score(["Emoji:"], " 😀")


def test_prompt_ending_in_whitespace_moves_it_to_the_target(stub, toy):
    """Item 6: the one boundary rule of every back-end (models.base.split_boundary)."""
    from proxyspex.models.base import split_boundary

    assert split_boundary("Sentiment: ", "positive") == ("Sentiment:", " positive")
    assert split_boundary("  ", "x") == ("  ", "x") and split_boundary("a", " b") == ("a", " b")
    assert split_boundary("<|im_start|>assistant\n", "Lisbon") == ("<|im_start|>assistant\n", "Lisbon")
    assert split_boundary("Q?\n \t", "A") == ("Q?\n", " \tA")
    lm = client(stub, scoring="echo")
    got = lm.score_options(["Review: good\nSentiment: ", "Is it?  "], ["positive", "no"])
    expected = [[toy.score("Review: good\nSentiment:", " positive"), toy.score("Review: good\nSentiment:", " no")],
                [toy.score("Is it?", "  positive"), toy.score("Is it?", "  no")]]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert completions(stub)[-1]["prompt"] == "Is it?  no"


def test_generate_is_greedy(stub, toy):
    lm = client(stub)
    context = "Greet"
    expected = ""
    for _ in range(3):
        expected += toy.next_top(toy.encode(context + expected), 1)[0][0]
    assert lm.generate(context, max_new_tokens=3) == expected
    assert completions(stub)[-1]["max_tokens"] == 3 and "echo" not in completions(stub)[-1]


def test_echo_with_one_token_where_zero_is_refused(stub, toy):
    stub.refuse_max_tokens_zero = True
    lm = client(stub)
    np.testing.assert_allclose(
        lm.score(PROMPTS, " very good"), [toy.score(p, " very good") for p in PROMPTS], atol=1e-12
    )
    assert lm.method == "echo"
    assert [p["max_tokens"] for p in completions(stub)] == [0, 1] + [1] * len(PROMPTS)


@pytest.mark.parametrize("echo", ["refuse", "ignore"])
def test_without_echo_top_logprobs_teacher_forcing(stub, toy, echo):
    stub.echo = echo
    lm = client(stub, top_logprobs=len(toy.VOCAB))
    expected = [[toy.score(p, o) for o in OPTIONS] for p in PROMPTS]
    np.testing.assert_allclose(lm.score_options(PROMPTS, OPTIONS), expected, atol=1e-12)
    assert lm.method == "top_logprobs"
    probes = 2 if echo == "refuse" else 1
    sent = completions(stub)
    assert sum(bool(p.get("echo")) for p in sent) == probes  # detected once
    # one request per prompt serves every single-token option (plus the detection's)
    assert len(sent) == probes + 1 + len(PROMPTS)
    assert all(p["logprobs"] == 10 and p["max_tokens"] == 1 for p in sent[probes:])
    # multi-token targets by teacher forcing
    np.testing.assert_allclose(
        lm.score(PROMPTS, " very good ."),
        [toy.score(p, " very good .") for p in PROMPTS],
        atol=1e-12,
    )
    with pytest.raises(ValueError, match="echo=true.*none of the 10 most likely"):
        lm.score(PROMPTS[:1], " positively")


@pytest.mark.parametrize(
    "echo, layout", [("yes", "no text_offset"), ("yes", "<s>"), ("ignore", "content")]
)
def test_other_logprob_layouts(stub, toy, echo, layout):
    stub.echo = echo
    stub.text_offset = layout != "no text_offset"  # then offsets are summed token lengths
    stub.bos = "<s>" if layout == "<s>" else ""  # counted in the offsets, not in the text
    stub.logprobs_format = "content" if layout == "content" else "legacy"
    lm = client(stub, top_logprobs=len(toy.VOCAB))
    expected = [[toy.score(p, o) for o in OPTIONS] for p in PROMPTS]
    np.testing.assert_allclose(lm.score_options(PROMPTS, OPTIONS), expected, atol=1e-12)
    assert lm.method == ("echo" if echo == "yes" else "top_logprobs")


def test_fallback_never_splits_a_space_from_its_word():
    lm = OpenAICompatible("http://h/v1", model="m", scoring="top_logprobs", connect=False)
    top = {" ": -0.1, "positive": -0.2, " pos": -3.0, "itive": -0.5, "\n": -1.0}
    lm._next_token_logprobs = lambda context: top  # the same candidates at every step
    assert lm._forced_logprob("p", " positive", {}) == pytest.approx(-3.5)  # " pos" + "itive"
    assert lm._forced_logprob("p", " \n", {}) == pytest.approx(-1.1)  # spaces may stand alone
    del top[" pos"]
    with pytest.raises(ValueError, match="none of the 4 most likely"):
        lm._forced_logprob("p", " positive", {})  # not " " + "positive"


def test_a_server_without_any_logprobs_is_named(stub):
    stub.echo, stub.logprobs = "ignore", False
    with pytest.raises(ValueError, match="supports neither"):
        client(stub).score(PROMPTS, " positive")


def test_one_permanent_4xx_keeps_the_good_rows(stub, toy, monkeypatch):
    """Item 2: a content filter refuses one prompt of many; the others are returned, the failure
    names its row and the server's (redacted) message."""
    secret = "sk-test-partial-91c2"
    monkeypatch.setenv("PROXYSPEX_TEST_KEY", secret)
    stub.refuse_text = "FLAGGED"
    prompts = [f"Review: film {i}\nSentiment:" for i in range(40)]
    prompts[17] = "Review: FLAGGED " + secret + "\nSentiment:"
    lm = client(stub, api_key_env="PROXYSPEX_TEST_KEY", max_concurrency=4)
    with pytest.raises(PartialOutputError) as info:
        lm.score_options(prompts, OPTIONS)
    err = info.value
    assert err.values.shape == (40, 2) and np.isnan(err.values[17]).all()
    good = [i for i in range(40) if i != 17]
    np.testing.assert_allclose(err.values[good], [[toy.score(prompts[i], o) for o in OPTIONS] for i in good])
    assert [row for row, _ in err.failures] == [17]
    assert "row 17" in str(err) and "content filter" in str(err) and secret not in str(err)
    fresh = client(stub)  # the refused prompt comes first, before the server's abilities are known
    with pytest.raises(PartialOutputError) as first:
        fresh.score_options(prompts[17:20], OPTIONS)
    assert [row for row, _ in first.value.failures] == [0] and fresh.method == "echo"
    with pytest.raises(PartialOutputError) as one:  # score() keeps the (m,) shape
        lm.score(prompts[15:20], " yes")
    assert one.value.values.shape == (5,) and np.isnan(one.value.values).tolist() == [0, 0, 1, 0, 0]
    game = px.games.Sentiment("good FLAGGED film", model=lm)  # the game maps the values through
    masks = np.array([[1, 1, 1], [1, 0, 1], [0, 1, 0]], dtype=bool)
    with pytest.raises(PartialOutputError) as mapped:
        game(masks)
    kept = [toy.score(p, " positive") - toy.score(p, " negative") for p in game.prompts(masks[[1]])]
    assert mapped.value.values.shape == (3,) and np.isnan(mapped.value.values[[0, 2]]).all()
    assert mapped.value.values[1] == pytest.approx(kept[0])


def test_a_refused_prompt_costs_only_itself_on_the_rerun(stub, tmp_path):
    """Item 2 end to end: the explanation fails, naming the refusal; the cache kept every good row,
    so the rerun (the filter lifted) pays only the refused masks."""
    stub.refuse_text = "good FLAGGED very"  # only masks that keep the first three words
    game = px.games.Sentiment("good FLAGGED very bad film", model=client(stub))
    cache = tmp_path / "cache.sqlite"
    with pytest.raises(px.ValueFunctionError, match="content filter"):
        px.explain(game, budget=32, random_state=0, cache=cache)
    before = len(completions(stub))
    stub.refuse_text = ""
    result = px.explain(game, budget=32, random_state=0, cache=cache)
    assert result.n_queries == 32
    assert len(completions(stub)) - before == 4  # the 4 refused masks, one top_logprobs request each


def test_read_timeout_is_clear_and_not_retried(stub):
    lm = client(stub, read_timeout=0.2)
    stub.delay = 3.0
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"read_timeout=0.2 s"):
        lm.generate("Greet", 1)
    assert time.perf_counter() - start < 2.0 and len(completions(stub)) == 1


def test_a_drip_feeding_server_is_cut_off_at_the_deadline(stub):
    """Item 10: each byte arrives within read_timeout, but the whole answer never would."""
    lm = client(stub, read_timeout=5.0, deadline=0.6)
    stub.drip = 0.05
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"deadline=0.6 s"):
        lm.generate("Greet", 1)
    assert time.perf_counter() - start < 3.0


@pytest.mark.parametrize("after", ["3600", "date"])
def test_retry_after_is_capped_by_max_backoff(stub, toy, after):
    value = email.utils.formatdate(4102444800, usegmt=True) if after == "date" else after  # a date in 2100
    lm = client(stub, scoring="echo", backoff=0.001, max_backoff=0.2)
    stub.plan.append({"status": 429, "headers": {"Retry-After": value}})
    start = time.perf_counter()
    assert lm.score(PROMPTS[:1], " yes")[0] == pytest.approx(toy.score(PROMPTS[0], " yes"))
    assert time.perf_counter() - start < 2.0


def test_5xx_is_retried_then_succeeds(stub, toy):
    lm = client(stub, scoring="echo")
    stub.plan.extend([{"status": 500}, {"status": 503, "body": "upstream overloaded"}])
    assert lm.score(PROMPTS[:1], " positive")[0] == pytest.approx(
        toy.score(PROMPTS[0], " positive")
    )
    assert len(completions(stub)) == 3


def test_retries_are_bounded_and_the_last_answer_surfaces(stub):
    lm = client(stub, scoring="echo", max_retries=2)
    before = len(stub.requests)
    stub.plan.extend([{"status": 502, "body": {"error": {"message": "bad gateway"}}}] * 3)
    with pytest.raises(ServerError, match=r"HTTP 502 \(after 3 attempts; max_retries=2\): bad gateway") as info:
        lm.score(PROMPTS[:1], " positive")
    assert info.value.status == 502 and len(stub.requests) == before + 3
    stub.plan.extend([{"status": 429, "body": {"error": {"message": "rate limited"}}}] * 3)
    with pytest.raises(ServerError, match=r"rate limited \(the API key is read from \$OPENAI_API_KEY"):
        lm.score(PROMPTS[:1], " positive")


@pytest.mark.parametrize(
    "headers, wait", [({"Retry-After": "0.4"}, 0.4), ({"retry-after-ms": "300"}, 0.3)]
)
def test_429_honours_retry_after(stub, toy, headers, wait):
    lm = client(stub, scoring="echo", backoff=0.001, max_backoff=1.0)
    stub.plan.append(
        {"status": 429, "headers": headers, "body": {"error": {"message": "slow down"}}}
    )
    start = time.perf_counter()
    assert lm.score(PROMPTS[:1], " yes")[0] == pytest.approx(toy.score(PROMPTS[0], " yes"))
    assert time.perf_counter() - start >= wait and len(completions(stub)) == 2


def test_backoff_grows_exponentially_with_jitter():
    lm = OpenAICompatible("http://127.0.0.1:9/v1", backoff=1.0, max_backoff=5.0, random_state=0, connect=False)
    delays = np.array([lm.http.retry_delay(attempt, {}) for attempt in range(6)])
    caps = np.minimum(5.0, 2.0 ** np.arange(6))
    assert np.all(delays <= caps) and np.all(delays >= caps / 2)
    assert len(set(delays.round(9))) == 6  # jittered
    in_3_s = email.utils.formatdate(time.time() + 3, usegmt=True)  # Retry-After as an HTTP date
    assert 1.5 < lm.http.retry_delay(0, {"Retry-After": in_3_s}) <= 3.0
    assert lm.http.retry_delay(0, {"Retry-After": "soon"}) <= 1.0  # unreadable: ignored
    assert lm.http.retry_delay(0, {"Retry-After": "3600"}) == 5.0  # capped


def test_other_4xx_fail_fast_with_the_servers_message(stub, toy):
    lm = client(stub)
    lm.score(PROMPTS[:1], " positive")  # detection done
    before = len(stub.requests)
    stub.plan.append(
        {"status": 400, "body": {"error": {"message": "prompt is too long (9000 > 8192)"}}}
    )
    with pytest.raises(ServerError, match=r"HTTP 400: prompt is too long \(9000 > 8192\)") as info:
        lm.score(PROMPTS[:1], " positive")
    assert info.value.status == 400 and len(stub.requests) == before + 1
    # a 4xx that every probe meets (a wrong model name, say) fails when the back-end is built
    with pytest.raises(ValueError, match=r"model='nope' is not served by .*'toy-lm'"):
        client(stub, model="nope")
    stub.plan.append({"status": 401, "body": {"error": {"message": "no key"}}})
    with pytest.raises(ServerError, match=r"HTTP 401: no key \(the API key is read from \$OPENAI_API_KEY, which"):
        lm.score(PROMPTS * 4, " positive")  # a 401 stops every row: the original error


def test_concurrency_is_capped_across_calls(stub):
    stub.delay = 0.05
    lm = client(stub, max_concurrency=3)
    lm.score_options(PROMPTS * 4, OPTIONS)
    assert 2 <= stub.max_in_flight <= 3
    stub.max_in_flight = 0
    lm = client(stub, max_concurrency=1)
    lm.score(PROMPTS * 2, " positive")
    assert stub.max_in_flight == 1


def test_api_key_is_sent_and_never_shown_or_pickled(stub, monkeypatch):
    secret = "sk-test-7f3a9c1e"
    monkeypatch.setenv("PROXYSPEX_TEST_KEY", secret)
    lm = client(stub, api_key_env="PROXYSPEX_TEST_KEY")
    lm.generate("Greet", 1)
    assert stub.requests[-1]["headers"]["Authorization"] == f"Bearer {secret}"
    assert secret.encode() not in pickle.dumps(lm)  # what Ray ships to its actors
    stub.plan.append(
        {"status": 401, "body": {"error": {"message": f"Incorrect API key provided: {secret}"}}}
    )
    with pytest.raises(ServerError) as info:
        lm.generate("Greet", 1)
    shown = [repr(lm), str(lm.__dict__), str(lm.http.__dict__), lm.fingerprint, str(info.value), repr(info.value)]
    assert not any(secret in text for text in shown)
    assert "Incorrect API key provided: <hidden>" in str(info.value)
    assert "$PROXYSPEX_TEST_KEY" in str(info.value)
    monkeypatch.delenv("PROXYSPEX_TEST_KEY")
    client(stub, api_key_env="PROXYSPEX_TEST_KEY").generate("Greet", 1)
    assert "Authorization" not in stub.requests[-1]["headers"]


def test_a_server_reflecting_the_headers_never_shows_the_key(stub, monkeypatch):
    """Item 9: non-JSON and choice-less answers reach messages redacted."""
    secret = "sk-test-reflected-55aa"
    monkeypatch.setenv("PROXYSPEX_TEST_KEY", secret)
    lm = client(stub, api_key_env="PROXYSPEX_TEST_KEY", scoring="echo")
    stub.reflect_headers = True
    with pytest.raises(ValueError, match="non-JSON") as info:
        lm.score(PROMPTS[:1], " yes")
    assert "Bearer <hidden>" in str(info.value) and secret not in str(info.value)
    stub.reflect_headers = False
    stub.plan.append({"status": 200, "body": {"echo": f"Authorization: Bearer {secret}"}})
    with pytest.raises(ValueError, match="without choices") as info:
        lm.score(PROMPTS[:1], " yes")
    assert secret not in str(info.value)
    monkeypatch.delenv("PROXYSPEX_TEST_KEY")  # the key is gone, a token in an answer is still hidden
    assert "sk-x" not in lm.http.redact("authorization: Bearer sk-x")


def test_fingerprint_covers_what_changes_the_values_and_sends_nothing(stub):
    """Item 4 and issue 14 item 6."""
    lm = client(stub)
    sent = len(stub.requests)
    key = lm.fingerprint
    assert len(stub.requests) == sent  # no request
    assert key.startswith(f"openai:{stub.url}|model=toy-lm|") and "format=" in key
    assert client(stub, model="toy-lm").fingerprint == key
    variants = [client(stub, top_logprobs=5), client(stub, scoring="echo"), client(stub, chat_template="{{ 1 }}"),
                client(stub, chat_template=lambda user, system: user)]
    stub.root = "/models/smollm2-bf16"
    variants.append(client(stub))
    stub.system_fingerprint = "vllm-0.32.0-deadbeef"
    variants.append(client(stub))
    keys = [key] + [v.fingerprint for v in variants]
    assert len(set(keys)) == len(keys)
    stub.system_fingerprint = "vllm-0.32.0-0ddba11"  # the model changed behind the same URL mid-run
    with pytest.raises(ServerError, match="system_fingerprint"):
        variants[-1].score(PROMPTS[:1], " yes")
    lazy = OpenAICompatible(stub.url, connect=False)
    with pytest.raises(RuntimeError, match="connect"):
        _ = lazy.fingerprint
    assert lazy.connect().system_fingerprint == "vllm-0.32.0-0ddba11"


def test_prompts_longer_than_the_context_fail_before_paying(stub):
    """Item 7: the server reports max_model_len and counts tokens (vLLM's /tokenize)."""
    stub.max_model_len = 12
    lm = client(stub)
    lm.score(PROMPTS[:1], " yes")
    sent = len(completions(stub))
    with pytest.raises(ValueError, match="max_model_len=12"):
        lm.score(["word " * 20], " yes")
    assert len(completions(stub)) == sent  # nothing paid


def test_url_model_and_argument_checks():
    assert OpenAICompatible("http://h:8000", model="m", connect=False).base_url == "http://h:8000/v1"
    assert OpenAICompatible("https://h/api/v1/", model="m", connect=False).base_url == "https://h/api/v1"
    for url in [
        "localhost:8000",
        "ftp://h/v1",
        "http:///v1",
        "http://h/v1?key=1",
        "http://u:p@h/v1",
    ]:
        with pytest.raises(ValueError, match="base_url"):
            OpenAICompatible(url, connect=False)
    with pytest.raises(TypeError, match="base_url"):
        OpenAICompatible(8000, connect=False)
    for bad, error in [
        ({"max_concurrency": 0}, ValueError),
        ({"scoring": "logits"}, ValueError),
        ({"read_timeout": 0}, ValueError),
        ({"deadline": -1}, ValueError),
        ({"max_retries": -1}, ValueError),
        ({"top_logprobs": 1.5}, TypeError),
        ({"model": ""}, ValueError),
        ({"api_key_env": ""}, ValueError),
    ]:
        with pytest.raises(error, match=next(iter(bad))):
            OpenAICompatible("http://h/v1", connect=False, **bad)
    with pytest.raises(TypeError, match="chat_template"):
        OpenAICompatible("http://h/v1", chat_template=3, connect=False)
    lm = OpenAICompatible("http://h/v1", model="m", connect=False)
    with pytest.raises(TypeError, match="prompts"):
        lm.score("one prompt", " x")
    with pytest.raises(ValueError, match="target"):
        lm.score(["p"], "")
    with pytest.raises(ValueError, match="options"):
        lm.score_options(["p"], [])


def test_unreachable_server_is_retried_then_named():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ServerError, match=r"could not be reached \(after 2 attempts"):
        OpenAICompatible(f"http://127.0.0.1:{port}/v1", model="m", max_retries=1, **FAST)


def test_chat_templates():
    template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    lm = OpenAICompatible("http://h/v1", model="m", chat_template=template, connect=False)
    assert lm.chat("Hi", "Be brief.") == "<system>Be brief.</system><user>Hi</user><assistant>"
    bare = OpenAICompatible("http://h/v1", model="m", connect=False)
    with pytest.warns(UserWarning, match="no chat_template"):
        assert bare.chat("Hi") == "Hi"
    assert bare.chat("Hi again") == "Hi again"  # warned once
    wrap = OpenAICompatible("http://h/v1", model="m", chat_template=lambda u, s: f"[{s}|{u}]", connect=False)
    assert wrap.chat("Hi") == "[None|Hi]"


def test_a_url_resolves_to_the_server_and_games_explain_through_it(stub, toy):
    lm = resolve_model(stub.url)
    assert isinstance(lm, OpenAICompatible) and lm.base_url == stub.url
    game = px.games.Sentiment("good very bad film", model=client(stub, max_concurrency=4))
    masks = np.random.default_rng(0).random((6, game.n)) < 0.5
    expected = [toy.score(p, " positive") - toy.score(p, " negative") for p in game.prompts(masks)]
    np.testing.assert_allclose(game(masks), expected, atol=1e-12)
    result = px.explain(game, budget=16, random_state=0)
    assert result.n_queries == 16 and result.faithfulness > 0.99  # n = 4: every mask
    restored = pickle.loads(pickle.dumps(game))  # Ray ships games to its actors
    np.testing.assert_allclose(restored(masks), expected, atol=1e-12)
    with pytest.raises(ValueError, match="not served"):  # a wrong name fails when the game is built
        px.games.Sentiment("good film", model=OpenAICompatible(stub.url, model="nope", **FAST))


def test_cli_takes_a_server_url(stub, capsys):
    from proxyspex.cli import main

    text = [
        "explain",
        "--task",
        "sentiment",
        "--text",
        "good very bad film",
        "--budget",
        "16",
        "--no-cache",
    ]
    assert main([*text, "--model", stub.url]) == 0
    assert "16 queries" in capsys.readouterr().out
    assert main([*text, "--model", stub.url, "--api-model", "nope"]) == 2
    assert "model='nope' is not served" in capsys.readouterr().err
    assert main([*text, "--api-model", "toy-lm"]) == 2
    assert "--api-model needs --model" in capsys.readouterr().err


# -- the embedded model behind a server ----------------------------------------------------
pytest_llm = pytest.mark.llm


@pytest.fixture(scope="module")
def lm32(embedded_model_dir):
    import torch

    from proxyspex.models import LocalLM

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see test_llm_games.py: a busy 2-core machine
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXYSPEX_MODEL_DIR", str(embedded_model_dir))
        yield LocalLM(dtype="float32")
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def served(lm32):
    from openai_stub import TorchLM

    with serve(TorchLM(lm32)) as server:
        yield server


# Short prompts: the stub runs one full forward pass per request (no prefix cache).
SHORT_PROMPT = "Is this review positive or negative?\nReview: {context}\nSentiment:"
SENTIMENT = [SHORT_PROMPT.format(context=text) for text in ["I loved it.", "Never again."]]


@pytest_llm
def test_server_scores_match_local_scores(lm32, served):
    served.echo = "yes"
    lm = OpenAICompatible(served.url, **FAST)
    for target in [" positive", " positive, mostly"]:
        np.testing.assert_allclose(
            lm.score(SENTIMENT, target), lm32.score(SENTIMENT, target), atol=1e-4
        )
    np.testing.assert_allclose(
        lm.score_options(SENTIMENT, OPTIONS), lm32.score_options(SENTIMENT, OPTIONS), atol=1e-4
    )
    for prompt, target in [("Emoji:", " 😀🎉"), ("日本の首都は", "東京です"), ("Sentiment: ", "positive")]:
        # items 5 and 6: the stub echoes byte pieces as vLLM does ('' until the character is whole)
        assert lm.score([prompt], target)[0] == pytest.approx(lm32.score([prompt], target)[0], abs=1e-4)
    served.echo = "refuse"
    try:
        fallback = OpenAICompatible(served.url, top_logprobs=200, **FAST)  # the stub has no cap
        np.testing.assert_allclose(
            fallback.score_options(SENTIMENT, OPTIONS),
            lm32.score_options(SENTIMENT, OPTIONS),
            atol=1e-4,
        )
        assert fallback.method == "top_logprobs"
    finally:
        served.echo = "yes"


@pytest_llm
def test_chat_template_and_generation_match_local(lm32, served):
    lm = OpenAICompatible(served.url, chat_template=lm32.tokenizer.chat_template, **FAST)
    for system in [None, "Answer in one word."]:
        assert lm.chat("What is 2 + 2?", system) == lm32.chat("What is 2 + 2?", system)
    prompt = lm32.chat("What is the capital of France?")
    assert lm.generate(prompt, 6) == lm32.generate(prompt, 6)


@pytest_llm
def test_explanation_through_the_server_matches_local(lm32, served):
    text = "Not that bad"
    remote = px.games.Sentiment(
        text, model=OpenAICompatible(served.url, **FAST), prompt=SHORT_PROMPT
    )
    local = px.games.Sentiment(text, model=lm32, prompt=SHORT_PROMPT)
    assert remote.fingerprint != local.fingerprint and remote.n == 3
    a = px.explain(remote, budget=8, random_state=0)  # every mask: the exact spectrum
    b = px.explain(local, budget=8, random_state=0)
    assert a.n_queries == b.n_queries == 8
    every = ((np.arange(8)[:, None] >> np.arange(3)) & 1).astype(bool)
    np.testing.assert_allclose(a.predict(every), b.predict(every), atol=1e-3)
    assert [names for names, _ in a.top(3)] == [names for names, _ in b.top(3)]
