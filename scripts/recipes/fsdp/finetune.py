#!/usr/bin/env python3
"""The recovery fine-tune of an mha2mla DeepSeek-V3 export on many GPUs: transformers' Trainer
under PyTorch FSDP (through accelerate), for models whose fp32 weights and AdamW state (~16 bytes
a parameter) do not fit one GPU. The recipe is `mha2mla train`'s, the MHA2MLA paper's: AdamW
β (0.9, 0.95), eps 1e-8, weight decay 0.01 (not on norms and biases), lr 1e-4, linear warmup over
the first 5 % of steps, constant, then "1-sqrt" decay to zero over the last 10 %, gradient
clipping at 1.0, bf16 compute on fp32 weights.

  mha2mla export converted -o export --format deepseek-v3
  mha2mla tokenize export --data train.txt --seq-len 2048 -o windows
  accelerate launch --config_file scripts/recipes/fsdp/accelerate-fsdp.yaml --num_processes 8 \\
      scripts/recipes/fsdp/finetune.py --model export --data windows/windows.jsonl -o tuned --steps 2000
  mha2mla eval tuned --data heldout.txt

--data is what `mha2mla tokenize --data` writes: one {"input_ids": [...]} per line, the very
windows `mha2mla train` would cut from the same data. OUT is a DeepSeek-V3 checkpoint (written
aside and renamed at the end; the tokenizer files copied from --model) that mha2mla and
transformers read, with metrics.jsonl (step, loss, lr, grad_norm) beside it.

--check validates the model, the windows and the accelerate config without transformers or a
GPU, and prints what the run would do as JSON (CI runs it); bad input exits 2 with one line.
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch

WRAPPED_LAYER = "DeepseekV3DecoderLayer"   # transformers' decoder layer: FSDP's unit of sharding
COMPANIONS = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "chat_template.jinja")


class InputError(Exception):
    """Bad input: reported as one line, exit code 2."""


def read_model_config(model):
    path = os.path.join(model, "config.json")
    if not os.path.isfile(path):
        raise InputError(f"{model}: no config.json; --model is the directory `mha2mla export --format deepseek-v3` wrote")
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    if config.get("model_type") != "deepseek_v3":
        raise InputError(f"{path}: model_type is {config.get('model_type')!r}; this recipe fine-tunes DeepSeek-V3 "
                         "(export an mha2mla MLA checkpoint with `mha2mla export --format deepseek-v3`)")
    layers, dense = config["num_hidden_layers"], config.get("first_k_dense_replace", 3)
    if dense < layers:
        raise InputError(f"{path}: layers {dense}..{layers - 1} are mixture-of-experts (first_k_dense_replace = {dense}); "
                         "the recipe is for the dense checkpoints mha2mla exports")
    return config


class Windows(torch.utils.data.Dataset):
    """OUT/windows.jsonl of `mha2mla tokenize --data`, read a line at a time (only the line offsets are held)."""

    def __init__(self, path):
        if not os.path.isfile(path):
            raise InputError(f"{path}: no such file; --data is the windows.jsonl `mha2mla tokenize MODEL --data D -o OUT` writes")
        self.path, self.offsets = path, []
        with open(path, "rb") as f:
            offset = 0
            for line in f:
                if line.strip():
                    self.offsets.append(offset)
                offset += len(line)
        if not self.offsets:
            raise InputError(f"{path}: holds no windows")

    def __len__(self):
        return len(self.offsets)

    def __getitem__(self, index):
        with open(self.path, "rb") as f:
            f.seek(self.offsets[index])
            line = f.readline()
        try:
            ids = json.loads(line)["input_ids"]
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{self.path}: window {index} is not an {{\"input_ids\": [...]}} line")
        return {"input_ids": ids}


def check_windows(windows, config):
    """Every window's ids inside the vocabulary and its length inside the model's positions; the counts."""
    vocab, positions = config["vocab_size"], config.get("max_position_embeddings", 4096)
    tokens, longest, short = 0, 0, 0
    for i in range(len(windows)):
        ids = windows[i]["input_ids"]
        if not isinstance(ids, list) or not all(isinstance(t, int) and 0 <= t < vocab for t in ids):
            bad = next((t for t in ids if not (isinstance(t, int) and 0 <= t < vocab)), ids) if isinstance(ids, list) else ids
            raise InputError(f"{windows.path}: window {i} holds {bad!r}, not a token id of this model's vocabulary (0..{vocab - 1}); "
                             "was it tokenized for another model?")
        if len(ids) > positions:
            raise InputError(f"{windows.path}: window {i} has {len(ids)} tokens, more than the model's max_position_embeddings ({positions}); "
                             "tokenize with a smaller --seq-len")
        tokens, longest, short = tokens + len(ids), max(longest, len(ids)), short + (len(ids) < 2)
    return {"windows": len(windows), "tokens": tokens, "longest": longest, "without_target": short}


def collate(batch, pad_id=0):
    """Pads a batch to its longest window: labels are the ids (the model shifts them) with padding ignored (-100)."""
    longest = max(len(item["input_ids"]) for item in batch)
    ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), longest), dtype=torch.long)
    for row, item in enumerate(batch):
        n = len(item["input_ids"])
        ids[row, :n] = torch.tensor(item["input_ids"], dtype=torch.long)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}


def wsd_factor(steps, warmup, decay):
    """mha2mla train's schedule (LearningRate.cs) as a LambdaLR factor: step k (0-based) uses mha2mla's step k + 1."""
    warmup_steps, decay_steps = math.ceil(warmup * steps), math.ceil(decay * steps)

    def factor(k):
        step = k + 1
        if step <= warmup_steps:
            return step / warmup_steps
        if decay_steps == 0 or step <= steps - decay_steps:
            return 1.0
        return 1.0 - math.sqrt((step - (steps - decay_steps)) / decay_steps)
    return factor


def check_accelerate_config(path):
    """The settings this recipe relies on: FSDP, the DeepSeek-V3 layer as the wrapped unit, a full state dict to save."""
    import yaml
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such accelerate config")
    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    fsdp = config.get("fsdp_config") or {}
    problems = []
    if config.get("distributed_type") != "FSDP":
        problems.append(f"distributed_type is {config.get('distributed_type')!r}, not FSDP")
    if WRAPPED_LAYER not in str(fsdp.get("fsdp_transformer_layer_cls_to_wrap", "")).split(","):
        problems.append(f"fsdp_transformer_layer_cls_to_wrap does not name {WRAPPED_LAYER}")
    if fsdp.get("fsdp_state_dict_type") != "FULL_STATE_DICT":
        problems.append("fsdp_state_dict_type is not FULL_STATE_DICT (the output must be one checkpoint mha2mla and transformers read)")
    if config.get("mixed_precision") != "bf16":
        problems.append(f"mixed_precision is {config.get('mixed_precision')!r}, not bf16")
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))
    return {"num_processes": config.get("num_processes"), "fsdp_version": fsdp.get("fsdp_version"), "wrapped": WRAPPED_LAYER}


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the DeepSeek-V3 export (mha2mla export --format deepseek-v3)")
    parser.add_argument("--data", required=True, help="windows.jsonl from mha2mla tokenize MODEL --data D -o OUT")
    parser.add_argument("-o", "--output", help="the fine-tuned checkpoint's directory (not with --check)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT once the new one is complete")
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps (default 100, as mha2mla train)")
    parser.add_argument("--lr", type=float, default=1e-4, help="peak learning rate")
    parser.add_argument("--batch", type=int, default=4, help="windows per micro-batch on each GPU")
    parser.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    parser.add_argument("--warmup", type=float, default=0.05, help="fraction of steps for linear warmup")
    parser.add_argument("--decay", type=float, default=0.1, help="fraction of steps for the final 1-sqrt decay to zero")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--clip", type=float, default=1.0, help="global gradient-norm clip (0: off)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--save-dtype", choices=["float32", "bfloat16"],
                        help="dtype of OUT's weights (default: the export's, as mha2mla train writes its input's)")
    parser.add_argument("--check", action="store_true", help="validate the inputs and print the plan as JSON; needs no transformers or GPU")
    parser.add_argument("--accelerate-config", help="with --check: the accelerate config the run will be launched with")
    args = parser.parse_args(argv)
    for name, value, ok in [("--steps", args.steps, args.steps >= 1), ("--batch", args.batch, args.batch >= 1),
                            ("--grad-accum", args.grad_accum, args.grad_accum >= 1), ("--lr", args.lr, args.lr > 0),
                            ("--warmup", args.warmup, 0 <= args.warmup < 1), ("--decay", args.decay, 0 <= args.decay <= 1)]:
        if not ok:
            raise InputError(f"{name} {value} is out of range (see --help)")
    if args.warmup + args.decay > 1:
        raise InputError(f"--warmup {args.warmup} and --decay {args.decay} add up to more than the whole run")
    if not args.check and not args.output:
        raise InputError("-o OUT is needed: the directory the fine-tuned checkpoint is written to")
    return args


def plan(args):
    """What --check prints: the model, the windows, the steps and the schedule, checked."""
    config = read_model_config(args.model)
    windows = Windows(args.data)
    result = {"model": {"layers": config["num_hidden_layers"], "kv_lora_rank": config["kv_lora_rank"],
                        "qk_rope_head_dim": config["qk_rope_head_dim"], "vocab_size": config["vocab_size"]},
              **check_windows(windows, config)}
    if args.accelerate_config:
        result["accelerate"] = check_accelerate_config(args.accelerate_config)
    # The GPUs the run is launched on: the accelerate config's (what `accelerate launch` uses unless told otherwise).
    processes = (result.get("accelerate") or {}).get("num_processes") or int(os.environ.get("WORLD_SIZE", "1"))
    per_step = args.batch * args.grad_accum * processes
    result.update(steps=args.steps, processes=processes, windows_per_step=per_step, epochs=args.steps * per_step / len(windows),
                  lr=[args.lr * wsd_factor(args.steps, args.warmup, args.decay)(k) for k in range(args.steps)])
    first = collate([windows[i] for i in range(min(args.batch, len(windows)))])
    result["first_batch"] = {"shape": list(first["input_ids"].shape), "ignored_labels": int((first["labels"] == -100).sum())}
    return result


def trainer_rank_zero():
    return int(os.environ.get("RANK", "0")) == 0


def save_dtype(args, config):
    if args.save_dtype:
        return args.save_dtype
    written = config.get("dtype") or config.get("torch_dtype") or "float32"
    return "bfloat16" if written in ("bfloat16", "bf16") else "float32"


def train(args):
    """The run itself, on every process accelerate launched."""
    config = read_model_config(args.model)
    windows = Windows(args.data)
    counts = check_windows(windows, config)   # a bad id is one line here, not a device-side assert mid-run
    output = os.path.abspath(args.output)
    work, previous = f"{output}.partial", f"{output}.previous"
    # The same answer on every rank (nothing has moved yet): OUT, or the OUT a killed --overwrite set aside, is kept.
    if (os.path.exists(output) or os.path.exists(previous)) and not args.overwrite:
        raise InputError(f"{args.output} already exists; pass --overwrite to replace it")
    if trainer_rank_zero():   # what a killed run left (the other ranks wait at the first collective)
        for stale in (work, work + "-trainer"):
            shutil.rmtree(stale, ignore_errors=True)
        if os.path.exists(previous):
            if os.path.exists(output):
                shutil.rmtree(previous)
            else:
                os.replace(previous, output)   # killed mid-swap: the old OUT back until this run's replaces it

    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments
    from transformers.trainer_callback import TrainerCallback

    class WsdTrainer(Trainer):
        """The Trainer with mha2mla's warmup-stable-1-sqrt-decay schedule (made after FSDP wraps the optimizer)."""

        def create_scheduler(self, num_training_steps, optimizer=None):
            if self.lr_scheduler is None:
                self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                    optimizer or self.optimizer, wsd_factor(num_training_steps, args.warmup, args.decay))
            return self.lr_scheduler

    class Progress(TrainerCallback):
        def on_log(self, training_args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs and "loss" in logs:
                print(f"step {state.global_step}/{state.max_steps}  loss {logs['loss']:.4f}  lr {logs.get('learning_rate', 0):.3g}", flush=True)

    # TrainingArguments first: under FSDP's cpu_ram_efficient_loading, from_pretrained then reads the
    # weights on rank 0 only and the other ranks receive them when the model is sharded.
    training = TrainingArguments(
        output_dir=work + "-trainer", max_steps=args.steps, per_device_train_batch_size=args.batch,
        gradient_accumulation_steps=args.grad_accum, learning_rate=args.lr, weight_decay=args.weight_decay,
        adam_beta1=0.9, adam_beta2=0.95, adam_epsilon=1e-8, max_grad_norm=args.clip if args.clip > 0 else 0.0,
        bf16=True, logging_steps=args.log_every, logging_first_step=True, save_strategy="no", report_to="none",
        seed=args.seed, data_seed=args.seed, remove_unused_columns=False, dataloader_drop_last=False)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="sdpa")
    if trainer_rank_zero():
        print(f"{counts['windows']} windows, {counts['tokens']} tokens; {args.steps} steps of "
              f"{args.batch * args.grad_accum * int(os.environ.get('WORLD_SIZE', '1'))} windows", flush=True)
    trainer = WsdTrainer(model=model, args=training, train_dataset=windows, data_collator=collate, callbacks=[Progress()])
    trainer.train()
    trainer.save_model(work)   # every rank: FSDP gathers the full state dict, rank 0 writes it
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        finish(args, config, work, output, trainer.state.log_history)
    trainer.accelerator.wait_for_everyone()


def finish(args, config, work, output, history):
    """Rank 0: the weights in the save dtype, the tokenizer files, metrics.jsonl; then OUT renamed into place."""
    from safetensors.torch import load_file, save_file
    dtype = save_dtype(args, config)
    if dtype == "bfloat16":
        for name in os.listdir(work):
            if name.endswith(".safetensors"):
                path = os.path.join(work, name)
                tensors = {k: (v.to(torch.bfloat16) if v.is_floating_point() else v) for k, v in load_file(path).items()}
                save_file(tensors, path + ".tmp", metadata={"format": "pt"})
                os.replace(path + ".tmp", path)
        config_path = os.path.join(work, "config.json")
        with open(config_path, encoding="utf-8") as f:
            written = json.load(f)
        written["dtype" if "dtype" in written else "torch_dtype"] = "bfloat16"
        with open(config_path, "w", encoding="utf-8") as f:
            json.dump(written, f, indent=2)
    for name in COMPANIONS:
        source = os.path.join(args.model, name)
        if os.path.isfile(source) and not os.path.exists(os.path.join(work, name)):
            shutil.copyfile(source, os.path.join(work, name))
    with open(os.path.join(work, "metrics.jsonl"), "w", encoding="utf-8") as f:
        for entry in history:
            if "loss" in entry:
                f.write(json.dumps({"step": entry["step"], "loss": entry["loss"], "lr": entry.get("learning_rate"),
                                    "grad_norm": entry.get("grad_norm")}) + "\n")
    # The old OUT (--overwrite) is set aside until the new one is in place: nothing is lost to a crash between.
    previous = f"{output}.previous"
    if os.path.exists(output):
        os.replace(output, previous)
    os.replace(work, output)
    shutil.rmtree(previous, ignore_errors=True)
    shutil.rmtree(work + "-trainer", ignore_errors=True)
    print(f"fine-tuned checkpoint written to {output}", flush=True)


def main(argv):
    try:
        args = parse_arguments(argv)
        if args.check:
            print(json.dumps(plan(args), indent=2))
        else:
            train(args)
        return 0
    except InputError as e:
        print(f"finetune.py: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
