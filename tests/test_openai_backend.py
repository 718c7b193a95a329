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
from openai_stub import ToyLM, serve

import proxyspex as px
from proxyspex.models import OpenAICompatible, ServerError, resolve_model

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
    return [r["payload"] for r in stub.requests if r["path"].endswith("/completions")]


def test_echo_scores_equal_the_reference_and_are_detected_once(stub, toy):
    lm = client(stub)
    targets = [" positive", " very good", " positive x"]  # in-vocabulary, multi-token, unknown
    for target in targets:
        np.testing.assert_allclose(
            lm.score(PROMPTS, target), [toy.score(p, target) for p in PROMPTS], rtol=0, atol=1e-12
        )
    expected = [[toy.score(p, o) for o in OPTIONS] for p in PROMPTS]
    np.testing.assert_allclose(lm.score_options(PROMPTS, OPTIONS), expected, rtol=0, atol=1e-12)
    assert lm.method == "echo" and lm.model == "toy-lm"
    sent = completions(stub)
    assert len(sent) == 1 + 3 * len(PROMPTS) + len(PROMPTS) * len(OPTIONS)  # one probe
    assert all(p["echo"] is True and p["max_tokens"] == 0 and p["logprobs"] == 1 for p in sent)
    assert all(p["model"] == "toy-lm" and p["temperature"] == 0 for p in sent)
    assert lm.score([], " positive").shape == (0,)
    assert lm.score_options([], OPTIONS).shape == (0, 2)


def test_generate_is_greedy(stub, toy):
    lm = client(stub)
    context = "Hello"
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
    lm = OpenAICompatible("http://h/v1", model="m", scoring="top_logprobs")
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


def test_read_timeout_is_clear_and_not_retried(stub):
    stub.delay = 3.0
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"read_timeout=0.2 s"):
        client(stub, read_timeout=0.2).generate("Hello", 1)
    assert time.perf_counter() - start < 2.0 and len(stub.requests) == 1


def test_5xx_is_retried_then_succeeds(stub, toy):
    stub.plan.extend([{"status": 500}, {"status": 503, "body": "upstream overloaded"}])
    lm = client(stub, scoring="echo")
    assert lm.score(PROMPTS[:1], " positive")[0] == pytest.approx(
        toy.score(PROMPTS[0], " positive")
    )
    assert len(completions(stub)) == 3


def test_retries_are_bounded_and_the_last_answer_surfaces(stub):
    stub.plan.extend([{"status": 502, "body": {"error": {"message": "bad gateway"}}}] * 3)
    with pytest.raises(ServerError, match=r"HTTP 502 \(after 3 attempts\): bad gateway") as info:
        client(stub, scoring="echo", max_retries=2).score(PROMPTS[:1], " positive")
    assert info.value.status == 502 and len(stub.requests) == 3


@pytest.mark.parametrize(
    "headers, wait", [({"Retry-After": "0.4"}, 0.4), ({"retry-after-ms": "300"}, 0.3)]
)
def test_429_honours_retry_after(stub, toy, headers, wait):
    stub.plan.append(
        {"status": 429, "headers": headers, "body": {"error": {"message": "slow down"}}}
    )
    lm = client(stub, scoring="echo", backoff=0.001)
    start = time.perf_counter()
    assert lm.score(PROMPTS[:1], " yes")[0] == pytest.approx(toy.score(PROMPTS[0], " yes"))
    assert time.perf_counter() - start >= wait and len(stub.requests) == 2


def test_backoff_grows_exponentially_with_jitter():
    lm = OpenAICompatible("http://127.0.0.1:9/v1", backoff=1.0, max_backoff=5.0, random_state=0)
    delays = np.array([lm._retry_delay(attempt, {}) for attempt in range(6)])
    caps = np.minimum(5.0, 2.0 ** np.arange(6))
    assert np.all(delays <= caps) and np.all(delays >= caps / 2)
    assert len(set(delays.round(9))) == 6  # jittered
    in_3_s = email.utils.formatdate(time.time() + 3, usegmt=True)  # Retry-After as an HTTP date
    assert 1.5 < lm._retry_delay(0, {"Retry-After": in_3_s}) <= 3.0
    assert lm._retry_delay(0, {"Retry-After": "soon"}) <= 1.0  # unreadable: ignored


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
    stub.plan.append({"status": 422, "body": {"detail": "unprocessable"}})
    with pytest.raises(ServerError, match="HTTP 422: unprocessable"):
        client(stub, scoring="echo", max_concurrency=1).score(PROMPTS * 4, " positive")
    assert len(stub.requests) <= before + 3  # no further prompt starts after the failure
    # a 4xx that every probe meets (a wrong model name, say) is surfaced, not hidden
    wrong = client(stub, model="nope")
    with pytest.raises(ServerError, match="HTTP 404: The model `nope` does not exist"):
        wrong.score(PROMPTS[:1], " positive")
    assert wrong.method is None  # nothing was learnt from the failure


def test_concurrency_is_capped_across_calls(stub):
    stub.delay = 0.05
    lm = client(stub, max_concurrency=3)
    lm.score_options(PROMPTS * 4, OPTIONS)
    assert 2 <= stub.max_in_flight <= 3
    stub.max_in_flight = 0
    lm = client(stub, max_concurrency=1)
    lm.score(PROMPTS * 2, " positive")
    assert stub.max_in_flight == 1


def test_api_key_is_sent_and_never_shown(stub, monkeypatch):
    secret = "sk-test-7f3a9c1e"
    monkeypatch.setenv("PROXYSPEX_TEST_KEY", secret)
    lm = client(stub, api_key_env="PROXYSPEX_TEST_KEY")
    lm.generate("Hello", 1)
    assert stub.requests[-1]["headers"]["Authorization"] == f"Bearer {secret}"
    stub.plan.append(
        {"status": 401, "body": {"error": {"message": f"Incorrect API key provided: {secret}"}}}
    )
    with pytest.raises(ServerError) as info:
        lm.generate("Hello", 1)
    shown = [repr(lm), str(lm.__dict__), lm.fingerprint, str(info.value), repr(info.value)]
    assert not any(secret in text for text in shown)
    assert "Incorrect API key provided: <hidden>" in str(info.value)
    monkeypatch.delenv("PROXYSPEX_TEST_KEY")
    client(stub, api_key_env="PROXYSPEX_TEST_KEY").generate("Hello", 1)
    assert "Authorization" not in stub.requests[-1]["headers"]


def test_fingerprint_names_the_server_and_model(stub):
    lm = client(stub)
    assert lm.fingerprint == f"openai:{stub.url}|model=toy-lm|scoring=auto"
    assert client(stub, model="other").fingerprint != lm.fingerprint
    assert (
        OpenAICompatible("http://127.0.0.1:1/v1", model="m").fingerprint
        != client(stub, model="m").fingerprint
    )


def test_url_model_and_argument_checks():
    assert OpenAICompatible("http://h:8000", model="m").base_url == "http://h:8000/v1"
    assert OpenAICompatible("https://h/api/v1/", model="m").base_url == "https://h/api/v1"
    for url in [
        "localhost:8000",
        "ftp://h/v1",
        "http:///v1",
        "http://h/v1?key=1",
        "http://u:p@h/v1",
    ]:
        with pytest.raises(ValueError, match="base_url"):
            OpenAICompatible(url)
    with pytest.raises(TypeError, match="base_url"):
        OpenAICompatible(8000)
    for bad in [
        {"max_concurrency": 0},
        {"scoring": "logits"},
        {"read_timeout": 0},
        {"max_retries": -1},
        {"top_logprobs": 1.5},
        {"model": ""},
        {"api_key_env": ""},
    ]:
        with pytest.raises(ValueError, match=next(iter(bad))):
            OpenAICompatible("http://h/v1", **bad)
    with pytest.raises(TypeError, match="chat_template"):
        OpenAICompatible("http://h/v1", chat_template=3)
    lm = OpenAICompatible("http://h/v1", model="m")
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
    lm = OpenAICompatible(f"http://127.0.0.1:{port}/v1", model="m", max_retries=1, **FAST)
    with pytest.raises(ServerError, match=r"could not be reached \(after 2 attempts\)"):
        lm.generate("Hello", 1)


def test_chat_templates():
    template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    lm = OpenAICompatible("http://h/v1", model="m", chat_template=template)
    assert lm.chat("Hi", "Be brief.") == "<system>Be brief.</system><user>Hi</user><assistant>"
    bare = OpenAICompatible("http://h/v1", model="m")
    with pytest.warns(UserWarning, match="no chat_template"):
        assert bare.chat("Hi") == "Hi"
    assert bare.chat("Hi again") == "Hi again"  # warned once
    wrap = OpenAICompatible("http://h/v1", model="m", chat_template=lambda u, s: f"[{s}|{u}]")
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
    assert "The model `nope` does not exist" in capsys.readouterr().err
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
