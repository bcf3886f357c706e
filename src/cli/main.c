/* vktrain: one program, several subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "dist/dist.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"train", vkt_cli_train, "train a model from a config (pre-training objectives, resume, samples)"},
    {"finetune", vkt_cli_finetune, "fine-tune a loaded model: LoRA adapters (PEFT format) or every weight"},
    {"eval", vkt_cli_eval, "validation loss and perplexity of a model on a text"},
    {"sample", vkt_cli_sample, "generate text from a checkpoint or an imported model"},
    {"chat", vkt_cli_chat, "chat with a model through its chat template (interactive, or one-shot for scripts)"},
    {"score", vkt_cli_score, "rewards of conversations from a reward model (a base model and its reward adapter)"},
    {"convert", vkt_cli_convert, "convert llama2.c / llm.c / Hugging Face models to a Hugging Face folder"},
    {"merge", vkt_cli_merge, "fold a PEFT LoRA adapter into its base model (Hugging Face folder out)"},
    {"export", vkt_cli_export, "write a model (optionally with a LoRA adapter merged) as GGUF for llama.cpp"},
    {"index", vkt_cli_index, "build or query a full-text index of documents (retrieval for RAG and chat)"},
    {"tokenizer", vkt_cli_tokenizer, "train a byte-level BPE tokenizer; encode and decode text"},
    {"devices", vkt_cli_devices, "list Vulkan devices and what they support"},
    {"bench", vkt_cli_bench, "measure device ceilings and time validated kernels against them"},
};

static void usage(void) {
    printf("usage: vktrain <command> [options]   (vktrain <command> --help for details; vktrain --version)\n\n"
           "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        printf("  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("vktrain (C11 + Vulkan compute)\ndata parallel (MPI): %s\n", vkt_dist_backend());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "vktrain: unknown command '%s'\n", argv[1]);
    usage();
    return 2;
}
