"""TRL glue: ZeroSearch-v0 as the multi-turn environment of ``trl.GRPOTrainer`` (its ``rollout_func``).

:class:`ZeroSearchRollout` plays each prompt of the trainer's batch as one ZeroSearch episode on a
:class:`zerosearch_gym.ZeroSearchVectorEnv`: every turn, all running episodes generate up to a ``</search>`` /
``</answer>``, and all their searches go to the backend as one batch. The completion it returns is
``turn 1 ids (env_mask 1) | observation ids (env_mask 0) | turn 2 ids ...``, built from the exact sampled ids;
the episode reward (F1) goes to :func:`f1_reward` as the ``env_reward`` column. The curriculum step is the
trainer's ``global_step``. Keeps the paper's ``<search>``/``<answer>`` tag protocol (TRL's own
``environment_factory`` would use JSON tool calls instead). Runs under ``accelerate`` (DDP, DeepSpeed, FSDP):
each process plays its own slice of the batch.
"""
from __future__ import annotations

from trl.models.utils import unwrap_model_for_generation

from zerosearch_gym import ZeroSearchEnv, ZeroSearchVectorEnv, load_qa_dataset, make_backend
from zerosearch_gym.llm import generate
from zerosearch_gym.wrappers import STOP_STRINGS, check_stop_strings

from ..episodes import Episode, play


def f1_reward(completions, env_reward, **kwargs) -> list[float]:
    """The episode's reward as the environment scored it (F1 of the final answer).

    >>> f1_reward(["a", "b"], env_reward=[1.0, 0.0])
    [1.0, 0.0]
    """
    return [float(r) for r in env_reward]


class ZeroSearchRollout:
    """``rollout_func`` for ``GRPOTrainer``: one ZeroSearch episode per prompt, batched searches per turn.

    Args:
        backend: a backend spec or object (shared by all episodes of this process).
        dataset: the questions (as for ZeroSearchEnv); :meth:`dataset` turns them into the trainer's dataset.
        max_turns: search turns before the answer turn.
        max_new_tokens: tokens per policy turn.
        max_obs_tokens: an observation is cut to this many tokens.
        temperature: sampling temperature.
        total_steps: the curriculum's length (default: the env's schedule).
        env_kwargs: other ZeroSearchEnv arguments (``top_k``, ``noise``, ``format_reward`` …).
    """

    def __init__(self, backend="bm25", dataset=None, max_turns: int = 2, max_new_tokens: int = 48,
                 max_obs_tokens: int = 160, temperature: float = 1.0, total_steps: int | None = None, **env_kwargs):
        self.backend = make_backend(backend)
        self.examples = load_qa_dataset(dataset)
        self.env_kwargs = dict(env_kwargs, max_turns=max_turns)
        self.max_new_tokens, self.max_obs_tokens = max_new_tokens, max_obs_tokens
        self.temperature, self.total_steps = temperature, total_steps
        probe = ZeroSearchEnv(backend=self.backend, dataset=self.examples)
        self._index = {probe.reset(options={"example": i})[0]: i for i in range(len(self.examples))}
        self.episodes = self.searches = self.backend_calls = 0  # what this process played

    def dataset(self):
        """A ``datasets.Dataset`` of conversational prompts (the env's prompt as the user message)."""
        from datasets import Dataset

        rows = [{"prompt": [{"role": "user", "content": text}], "question_id": self.examples[i].id}
                for text, i in self._index.items()]
        return Dataset.from_list(rows)

    def __call__(self, prompts: list, trainer) -> dict:
        texts = [p[-1]["content"] if isinstance(p, list) else p for p in prompts]
        unknown = [t[:60] for t in texts if t not in self._index]
        if unknown:
            raise ValueError(f"expected prompts from ZeroSearchRollout.dataset(), got {len(unknown)} unknown, "
                             f"e.g. {unknown[0]!r}")
        tokenizer = trainer.processing_class
        check_stop_strings(tokenizer)
        envs = ZeroSearchVectorEnv(num_envs=len(texts), backend=self.backend, dataset=self.examples, **self.env_kwargs)
        options = {"curriculum_step": int(trainer.state.global_step)}
        if self.total_steps:
            options["total_steps"] = self.total_steps
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator,
                                         gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs) as model:
            actor = _Actor(model, tokenizer, self.max_new_tokens, self.max_obs_tokens, self.temperature)
            episodes = play(envs, actor, [self.examples[self._index[t]] for t in texts], options=options)
        self.backend_calls += envs.backend_calls
        envs.close()
        searches = [e.record()["searches"] for e in episodes]
        self.episodes += len(episodes)
        self.searches += sum(searches)
        starts = [e.spans[0][0] if e.spans else len(e.ids) for e in episodes]  # where the completion begins
        return {"prompt_ids": [e.ids[:s] for e, s in zip(episodes, starts)],
                "completion_ids": [e.ids[s:] for e, s in zip(episodes, starts)], "logprobs": None,
                "env_mask": [e.mask[s:] for e, s in zip(episodes, starts)],
                "env_reward": [e.reward for e in episodes], "searches": searches}


class _Actor:
    """The trainer's model as an actor of :func:`agents.episodes.play`: the prompt through the chat template,
    each turn generated up to a stop tag, observations tokenized on their own (env_mask 0)."""

    def __init__(self, model, tokenizer, max_new_tokens: int, max_obs_tokens: int, temperature: float):
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.max_obs_tokens, self.temperature = max_new_tokens, max_obs_tokens, temperature

    def begin(self, episodes: list[Episode], backend) -> None:
        for e in episodes:
            e.add_context(list(self.tokenizer.apply_chat_template([{"role": "user", "content": e.transcript}],
                                                                  add_generation_prompt=True, tokenize=True,
                                                                  return_dict=True)["input_ids"]))

    def act(self, episodes: list[Episode], seed) -> list[str]:
        turns = generate(self.model, self.tokenizer, [e.ids for e in episodes], max_new_tokens=self.max_new_tokens,
                         temperature=self.temperature, stop_strings=STOP_STRINGS, engine="hf")
        for e, turn in zip(episodes, turns):
            e.add_turn(turn.token_ids)
        return [turn.text for turn in turns]

    def observe(self, episode: Episode, obs: str) -> None:
        if obs:
            episode.add_context(self.tokenizer.encode(obs, add_special_tokens=False)[: self.max_obs_tokens])
