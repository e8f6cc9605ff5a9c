"""`chatrec llm ...`: the language model on its own (serve it over HTTP, try a prompt)."""

from __future__ import annotations

import typer

from chatrec.settings import Settings

app = typer.Typer(help="The LLM backend: serve the local model as an OpenAI-compatible endpoint.", no_args_is_help=True)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8001, help="port (8000 is the Evidently UI's)"),
    model: str | None = typer.Option(None, help="transformers model id/path; default: settings.llm_model"),
) -> None:
    """Serve the local transformers model at http://HOST:PORT/v1 (chat completions, logprobs, embeddings)."""
    from chatrec.llm.backends.transformers_backend import TransformersBackend
    from chatrec.llm.server import serve as run_server

    settings = Settings()
    if settings.torch_threads is not None:
        import torch

        torch.set_num_threads(settings.torch_threads)
    backend = TransformersBackend(
        model or settings.llm_model,
        cache_dir=settings.cache_dir,
        device=settings.torch_device(),
        batch_size=settings.llm_batch_size,
    )
    typer.echo(f"serving {backend.name} on http://{host}:{port}/v1 (Ctrl-C stops)")
    run_server(backend, host=host, port=port)


@app.command("ask")
def ask(prompt: str = typer.Argument(..., help="a user message"), max_tokens: int = typer.Option(64)) -> None:
    """One chat turn with the configured backend (a smoke test of the LLM settings)."""
    from chatrec.llm import make_backend

    backend = make_backend(Settings())
    typer.echo(backend.generate([[{"role": "user", "content": prompt}]], max_new_tokens=max_tokens)[0].text)
