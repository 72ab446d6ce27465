"""Knowledge updates: does a new fact retire the old facts it makes untrue, and only those?

    .venv/bin/python benchmarks/knowledge_updates.py [--model qwen2.5-1.5b]

32 hand-made cases: older memories of a fan, then a new one 30 days later, and which older ones it makes
untrue. Each runs through `MemoryService.update_knowledge` as the background work does, on a fresh fan: the rules of
`clonr.memory.changes` alone (CLONR_KNOWLEDGE_UPDATES=rules), then with the chat model confirming each pair
(`on`). A wrong retirement ranks a true memory below the newer one for questions about now; a missed one leaves
the old fact beside the newer, dated one. The baseline retires every older memory MiniLM finds close (cosine
0.5, the gate before the rules). "Tuning" cases were looked at while the prompt was
written; "held out" ones were not.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, datetime, timedelta

TUNING = [
    (["Fan: I live in Paris."], "Fan: I moved to Berlin last month.", [1]),
    (["Fan: I work as a nurse."], "Fan: I quit nursing, I'm a teacher now.", [1]),
    (["Fan: I have a dog called Biscuit."], "Fan: I took Biscuit to the beach today.", []),
    (["Fan: I'm single."], "Fan: I just got engaged to Sam!", [1]),
    (["Fan: I love jazz."], "Fan: I went to a jazz concert last night.", []),
    (["Fan: My sister lives in Lisbon.", "Fan: I live in Paris."], "Fan: I moved to Berlin.", [2]),
    (["Fan: I'm 29."], "Fan: Today is my 30th birthday!", [1]),
    (["Fan: I drive a red Fiat."], "Fan: I sold my car, I cycle everywhere now.", [1]),
    (["Fan: I'm vegetarian."], "Fan: I had a great salad today.", []),
    (["Fan: I hate running."], "Fan: I ran my first marathon and loved it!", [1]),
    (["Fan: My cat is called Pixel.", "Fan: I live with my parents."], "Fan: Pixel knocked over my coffee again.", []),
    (["Fan: I'm studying law at university."], "Fan: I graduated last week and started at a law firm.", [1]),
    (["Fan: I live in Madrid."], "Fan: We finally settled in Lisbon after the move.", [1]),
    (["Fan: I'm a software engineer at a startup."], "Fan: I got laid off, so I'm freelancing now.", [1]),
    (["Fan: My daughter is called Mia."], "Fan: Mia lost her first tooth today!", []),
    (["Fan: I have a girlfriend, Anna."], "Fan: Anna and I broke up last week.", [1]),
    (["Fan: I play the guitar."], "Fan: I learned a new song on the guitar.", []),
    (["Fan: My parents live in Ohio.", "Fan: I live in Chicago."], "Fan: I moved to Denver for work.", [2]),
    (["Fan: I smoke a pack a day."], "Fan: It's been three months since I quit smoking!", [1]),
    (["Fan: I have two cats."], "Fan: We adopted a third cat yesterday.", [1]),
    (["Fan: I love Italian food."], "Fan: We went to a great pizza place tonight.", []),
    (["Fan: I'm training for a 10k."], "Fan: My knee hurts after today's run.", []),
    (["Fan: My best friend is Leo.", "Fan: I work nights at a hotel."], "Fan: Leo is coming to my birthday party.", []),
    (["Fan: I'm 40 years old."], "Fan: I turned 41 on Tuesday.", [1]),
]
HELD_OUT = [
    (["Fan: I live in a flat in Glasgow."], "Fan: We bought a house in Edinburgh and moved in.", [1]),
    (["Fan: I'm a waiter."], "Fan: I opened my own restaurant this spring.", [1]),
    (["Fan: My wife is Priya."], "Fan: Priya got a promotion at work!", []),
    (["Fan: I don't drink coffee."], "Fan: I've started drinking coffee every morning.", [1]),
    (["Fan: My grandad lives in Cork.", "Fan: I live in Dublin."], "Fan: I've moved to London.", [2]),
    (["Fan: I paint watercolours."], "Fan: I sold my first watercolour!", []),
    (["Fan: I'm engaged to Chris."], "Fan: Chris and I got married on Saturday!", [1]),
    (["Fan: I have a hamster called Nibbles."], "Fan: Nibbles escaped and we found him under the sofa.", []),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-1.5b")
    args = parser.parse_args()
    os.environ.update(CLONR_HOME=tempfile.mkdtemp(prefix="clonr-updates-"), CLONR_CHAT_MODEL=args.model,
                      CLONR_IMPORTANCE="heuristic", CLONR_REFLECTION_THRESHOLD="0", CLONR_KNOWLEDGE_UPDATES="off")

    import dataclasses

    from clonr import Clonr
    from clonr.memory import TranscriptLine
    from clonr.vectors.base import nearest_ids

    app = Clonr()
    clone = app.clones.create("Bench")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rules = dataclasses.replace(app.memory.policy, knowledge_updates=True, confirm_updates=False)
    sides = {"baseline: every memory with cosine >= 0.5": None, "rules alone (`rules`)": rules,
             f"rules, {args.model} confirming (`on`)": dataclasses.replace(rules, confirm_updates=True)}
    print("| cases | side | retired rightly | retired wrongly | missed | precision | recall |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, cases in (("tuning", TUNING), ("held out", HELD_OUT)):
        counts = {side: [0, 0, 0] for side in sides}
        for n, (older, newer, untrue) in enumerate(cases):
            fan = f"{label.replace(' ', '-')}-{n}"
            # Through the import path, which also learns whom the fan names ("My wife is Priya").
            app.memory.import_transcript(clone, fan, [
                TranscriptLine("fan", text.removeprefix("Fan: "), start + timedelta(days=day), name="Fan")
                for day, text in enumerate(older)])
            olds = app.store.list_memories(clone.id, [fan], limit=None)[::-1]
            new, = app.memory.remember(clone.id, fan, [newer], happened_at=[start + timedelta(days=30)])
            wanted = {olds[i - 1].id for i in untrue}
            vectors = app.memory._vectors(clone.id, fan)
            for side, policy in sides.items():
                if policy is None:
                    retired = {i for i, score in nearest_ids(vectors, vectors.embeddings.embed_query(newer), 6)
                               if i != new.id and score >= 0.5}
                else:
                    app.memory.policy = policy
                    retired = {m.id for m in app.memory.update_knowledge(new)}
                    for old in olds:  # as it was, for the next side
                        app.store.update_memory(old.id, superseded_by=None)
                counts[side][0] += len(retired & wanted)
                counts[side][1] += len(retired - wanted)
                counts[side][2] += len(wanted - retired)
        for side, (right, wrong, missed) in counts.items():
            print(f"| {label} ({len(cases)}) | {side} | {right} | {wrong} | {missed} | "
                  f"{right / max(1, right + wrong):.2f} | {right / max(1, right + missed):.2f} |")

if __name__ == "__main__":
    main()
