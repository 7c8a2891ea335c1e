"""The numpy beam search that `seqmodels.decoding.beam_search` replaced, kept as its oracle.

`Translator.translate` and `Captioner.caption` ran this search (a Python loop over the live
prefixes of each example) until the search moved into the graph; the graph search must return
exactly its tokens. Not part of the package: only the tests call it.
"""

import numpy as np


def beam_search(log_probs_fn, batch_size, start_id, end_id, max_length, beam_size=4,
                length_penalty=0.6):
    """Finds high-probability sequences, keeping the `beam_size` best prefixes per example.

    With `beam_size=1` this is greedy decoding.

    Args:
        log_probs_fn: `log_probs_fn(prefixes, rows)` → (len(rows), vocab) log-probabilities of
            the next token, for `prefixes` (len(rows), t) int64 and `rows` the example index of
            each prefix (to pick its encoder outputs).
        batch_size: number of examples.
        start_id: the id every sequence starts with.
        end_id: the id that ends a sequence.
        max_length: longest sequence, the start token included.
        beam_size: prefixes kept per example.
        length_penalty: alpha of Wu et al.'s ((5 + len) / 6) ** alpha normalisation.

    Returns:
        (batch_size, <= max_length) int64: the best sequence per example (start token first,
        padded with `end_id` after its end).

    References:
        Wu et al., "Google's Neural Machine Translation System", 2016 (length penalty).
    """
    if beam_size < 1 or max_length < 2:
        raise ValueError(f"`beam_size` must be >= 1 and `max_length` >= 2. Received: "
                         f"beam_size={beam_size}, max_length={max_length}")
    # Live beams: (batch * beams) rows; beams of one example are contiguous.
    prefixes = np.full((batch_size, 1), start_id, np.int64)
    rows = np.arange(batch_size)
    scores = np.zeros(batch_size)
    finished = [[] for _ in range(batch_size)]  # (normalised score, sequence)

    def normalised(score, length):
        return score / (((5.0 + length) / 6.0) ** length_penalty)

    for _ in range(max_length - 1):
        log_probs = np.asarray(log_probs_fn(prefixes, rows), np.float64)  # (live, vocab)
        vocab = log_probs.shape[-1]
        candidates = scores[:, None] + log_probs  # (live, vocab)
        new_prefixes, new_rows, new_scores = [], [], []
        for example in range(batch_size):
            live = np.flatnonzero(rows == example)
            if not len(live):
                continue
            flat = candidates[live].ravel()
            best = np.argsort(-flat)[:2 * beam_size]
            kept = 0
            for index in best:
                parent, token = live[index // vocab], index % vocab
                sequence = np.append(prefixes[parent], token)
                if token == end_id:
                    finished[example].append((normalised(flat[index], len(sequence)), sequence))
                elif kept < beam_size:
                    new_prefixes.append(sequence)
                    new_rows.append(example)
                    new_scores.append(flat[index])
                    kept += 1
            best_finished = max((s for s, _ in finished[example]), default=-np.inf)
            if len(finished[example]) >= beam_size and best_finished >= normalised(
                    max(new_scores[-kept:], default=-np.inf), len(sequence)):
                # No live beam can beat the best finished one any more: drop them.
                del new_prefixes[len(new_prefixes) - kept:]
                del new_rows[len(new_rows) - kept:]
                del new_scores[len(new_scores) - kept:]
        if not new_prefixes:
            prefixes, rows, scores = prefixes[:0], rows[:0], scores[:0]
            break
        prefixes, rows, scores = np.stack(new_prefixes), np.array(new_rows), np.array(new_scores)
    for example in range(batch_size):  # beams that reached max_length count as finished
        for prefix, row, score in zip(prefixes, rows, scores):
            if row == example:
                finished[example].append((normalised(score, len(prefix)), prefix))
    best = [max(f, key=lambda item: item[0])[1] for f in finished]
    length = max(len(b) for b in best)
    return np.stack([np.pad(b, (0, length - len(b)), constant_values=end_id) for b in best])
