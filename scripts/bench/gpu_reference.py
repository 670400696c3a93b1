#!/usr/bin/env python3
"""The PyTorch + transformers side of scripts/bench-gpu.sh (needs a CUDA GPU and transformers).

  make DIR --shape 1.1b|8b                 a random Llama of that shape, bf16 safetensors
  ids FILE --count N --length T            random token ids (JSON array of arrays)
  eval DIR --data FILE                     bf16, SDPA attention: {"tokens_per_second": ...}
  train DIR --data FILE --steps S --batch B    AdamW, bf16 autocast over fp32 weights
"""
import argparse
import json
import math
import time

import torch

SHAPES = {
    "1.1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4, vocab_size=32000),
    "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
               rope_theta=500000.0),
}


def main():
    from transformers import LlamaConfig, LlamaForCausalLM
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make"); m.add_argument("dir"); m.add_argument("--shape", choices=SHAPES, required=True)
    i = sub.add_parser("ids"); i.add_argument("file"); i.add_argument("--count", type=int, required=True); i.add_argument("--length", type=int, required=True)
    e = sub.add_parser("eval"); e.add_argument("dir"); e.add_argument("--data", required=True)
    t = sub.add_parser("train"); t.add_argument("dir"); t.add_argument("--data", required=True)
    t.add_argument("--steps", type=int, default=10); t.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()

    if args.command == "make":
        config = LlamaConfig(max_position_embeddings=4096, rms_norm_eps=1e-5, tie_word_embeddings=False, **SHAPES[args.shape])
        with torch.device("cuda"):
            model = LlamaForCausalLM(config).to(torch.bfloat16)
        model.save_pretrained(args.dir, safe_serialization=True)
        return
    if args.command == "ids":
        g = torch.Generator().manual_seed(0)
        json.dump(torch.randint(0, 32000, (args.count, args.length), generator=g).tolist(), open(args.file, "w"))
        return

    ids = torch.tensor(json.load(open(args.data)), device="cuda")
    if args.command == "eval":
        model = LlamaForCausalLM.from_pretrained(args.dir, dtype=torch.bfloat16, attn_implementation="sdpa").cuda().eval()
        nll = 0.0
        with torch.no_grad():
            model(ids[:1])                                   # warm-up
            torch.cuda.synchronize()
            start = time.perf_counter()
            for row in ids:                                  # one sequence at a time, as mha2mla eval
                nll += model(row[None], labels=row[None]).loss.item() * (len(row) - 1)
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        scored = ids.numel() - len(ids)
        print(json.dumps({"tokens_per_second": scored / seconds, "perplexity": math.exp(nll / scored)}))
        return

    model = LlamaForCausalLM.from_pretrained(args.dir, dtype=torch.float32, attn_implementation="sdpa").cuda().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.01)
    def step(batch):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)
        return loss.item()
    step(ids[:args.batch])                                   # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    for s in range(args.steps):
        rows = [(s * args.batch + k) % len(ids) for k in range(args.batch)]
        loss = step(ids[rows])
    torch.cuda.synchronize()
    tokens = args.steps * args.batch * (ids.shape[1] - 1)    # predicted tokens, as mha2mla train counts them
    print(json.dumps({"tokens_per_second": tokens / (time.perf_counter() - start), "final_loss": loss}))


if __name__ == "__main__":
    main()
