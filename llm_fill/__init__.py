"""envc.llm_fill: holes filled by a language model, in the DSL, accepted only by checks.

`envc fill SPEC --model MODEL` asks a model (any litellm provider string) for the body of
each unfilled or stale hole, judges the answer (parse, type check with the spec, a static
work bound, the text's scenarios, generated property tests in the card's own context with the
text's contract, frame and draws, the use of every printed number, agreement with any other
fill of the text), sends failures back in a repair prompt, and writes
accepted fills with their provenance into the fill file beside the spec. `envc holes SPEC`
lists every hole with its status and provenance.

Modules, in the order data flows through them:

* `spec`: the spec and its fill file, loaded with unfilled holes tolerated; stale warnings;
* `prompts` (+ `templates/`): the jinja2 prompts, with a reference card of the language;
* `driver`: the repair loop, model calls through `litellm.completion`, accounting, writing;
* `answer`: the body extracted from an answer (a fenced block, 8 KB at most);
* `judge`: the stages a candidate must pass, in order;
* `props`: the generated property tests (states reached by random play, arguments from
  the IR types, hypothesis), scenarios, and examples spread over the games;
* `textchecks`: the checks that come from the text (`ir.Contract`, from the spec's `texts of`
  rules): its contract, frame and draws per call, the card's context, the printed numbers
  and symbols the fill must use, differences between two fills;
* `fillfile`: rewriting one item of a fill file, keeping everything else (a member of a
  hole family is written `fill FAMILY text "..." hash "..." { ... }`);
* `cli`: the two commands, registered on envc's typer app;
* `scripted`: a scripted OpenAI-compatible server standing in for a model (tests, demos).

An answer is data: it is parsed as envspec and run only by the reference interpreter,
inside a static work bound; nothing in it is executed as Python.
"""
