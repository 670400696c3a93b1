"""A stand-in for the few transformers names scripts/recipes/fsdp/finetune.py uses, so CI (where
transformers cannot be installed) runs the recipe's own code around the Trainer: argument
handling, the scheduler hook, the save, the dtype cast, the companions, metrics.jsonl and the
swap into OUT. It trains nothing: `train` logs falling losses and leaves the weights as loaded,
so OUT must compute exactly what the export computes. `save_model` writes what transformers 5's
save_pretrained writes for a full state dict: model.safetensors in the weights' dtype (fp32 here)
and config.json with "dtype". The real run is scripts/gpu-kit's, with the real transformers.
"""
import json
import os

import torch
from safetensors.torch import load_file, save_file

from .trainer_callback import TrainerCallback  # noqa: F401


class TrainingArguments:
    def __init__(self, output_dir, max_steps, learning_rate, **kwargs):
        self.output_dir, self.max_steps, self.learning_rate = output_dir, max_steps, learning_rate
        self.__dict__.update(kwargs)


class AutoModelForCausalLM:
    @staticmethod
    def from_pretrained(path, dtype=torch.float32, **kwargs):
        tensors = {}
        for name in sorted(os.listdir(path)):
            if name.endswith(".safetensors"):
                tensors.update({k: v.to(dtype) for k, v in load_file(os.path.join(path, name)).items()})
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
        return {"tensors": tensors, "config": config}


class _State:
    def __init__(self, max_steps):
        self.global_step, self.max_steps, self.log_history, self.is_world_process_zero = 0, max_steps, [], True


class _Accelerator:
    def wait_for_everyone(self):
        pass


class Trainer:
    def __init__(self, model, args, train_dataset, data_collator, callbacks=()):
        self.model, self.args, self.dataset, self.collate, self.callbacks = model, args, train_dataset, data_collator, callbacks
        self.lr_scheduler, self.optimizer = None, torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=args.learning_rate)
        self.state, self.accelerator = _State(args.max_steps), _Accelerator()

    def train(self):
        scheduler = self.create_scheduler(self.args.max_steps, self.optimizer)
        for step in range(1, self.args.max_steps + 1):
            batch = self.collate([self.dataset[i % len(self.dataset)] for i in range(self.args.per_device_train_batch_size)])
            assert batch["labels"].shape == batch["input_ids"].shape
            self.optimizer.step()
            scheduler.step()
            self.state.global_step = step
            logs = {"loss": 5.0 / step, "learning_rate": scheduler.get_last_lr()[0], "grad_norm": 1.0, "step": step}
            self.state.log_history.append(logs)
            for callback in self.callbacks:
                callback.on_log(self.args, self.state, None, logs=logs)

    def create_scheduler(self, num_training_steps, optimizer=None):
        raise NotImplementedError("the recipe provides its schedule")

    def save_model(self, output_dir):
        os.makedirs(output_dir, exist_ok=True)
        save_file(self.model["tensors"], os.path.join(output_dir, "model.safetensors"), metadata={"format": "pt"})
        config = dict(self.model["config"])
        config.pop("torch_dtype", None)
        config["dtype"] = "float32"
        with open(os.path.join(output_dir, "config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)

    def is_world_process_zero(self):
        return True
