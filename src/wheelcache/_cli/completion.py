"""Shell completion for bash, zsh and fish, generated from the argument parser.

:func:`completion_script` walks the parser :func:`~wheelcache._cli.parser.build_parser`
builds: its commands, each command's options, the values an option accepts
(its ``choices``; directories for ``DIR``) and whether a command's argument
is a file. Nothing here is written by hand per command, so completion stays
in step with the parser. ``wheelcache completion SHELL`` prints the script;
README.md says where each shell looks for it.
"""

from __future__ import annotations

import argparse
import re
from typing import NamedTuple

__all__ = ["SHELLS", "completion_script"]

SHELLS = ("bash", "zsh", "fish")


class _Option(NamedTuple):
    names: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...]
    directories: bool


class _Command(NamedTuple):
    name: str
    help: str
    options: tuple[_Option, ...]
    files: bool
    """Its positional argument may be a path (a source, or a pattern that may be a directory)."""
    choices: tuple[str, ...]
    """The values its positional argument takes, if it has a fixed set."""


_FILE_ARGUMENTS = frozenset({"source", "patterns"})
"""Arguments (by ``dest``) that may be paths: ``build SOURCE``, ``remove PATTERN...``."""


def _options(parser: argparse.ArgumentParser) -> tuple[_Option, ...]:
    found = []
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        found.append(
            _Option(
                tuple(action.option_strings),
                action.help or "",
                action.nargs != 0,
                tuple(map(str, action.choices or ())),
                action.metavar == "DIR",
            )
        )
    return tuple(found)


def _commands(parser: argparse.ArgumentParser) -> tuple[_Command, ...]:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help or "" for choice in subparsers._choices_actions}
    commands = []
    for name, sub in subparsers.choices.items():
        positional = [a for a in sub._actions if not a.option_strings]
        dests = {a.dest for a in positional}
        choices = tuple(str(c) for a in positional for c in (a.choices or ()))
        commands.append(
            _Command(
                name, helps.get(name, ""), _options(sub), bool(dests & _FILE_ARGUMENTS), choices
            )
        )
    return tuple(commands)


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of *parser*'s program for *shell* (one of :data:`SHELLS`)."""
    makers = {"bash": _bash, "zsh": _zsh, "fish": _fish}
    return makers[shell](parser.prog, _options(parser), _commands(parser))


def _function(prog: str) -> str:
    return "_" + re.sub(r"\W", "_", prog)


def _bash(prog: str, options: tuple[_Option, ...], commands: tuple[_Command, ...]) -> str:
    function = _function(prog)
    everything = options + tuple(o for c in commands for o in c.options)
    valued = sorted({n for o in everything if o.takes_value for n in o.names})
    directories = sorted({n for o in everything if o.directories for n in o.names})
    value_cases = [
        f'        {"|".join(directories)}) COMPREPLY=($(compgen -d -- "$cur")); return;;'
    ]
    value_cases += sorted(
        {
            f"        {'|'.join(o.names)}) COMPREPLY=($(compgen -W '{' '.join(o.choices)}'"
            f' -- "$cur")); return;;'
            for o in everything
            if o.choices
        }
    )
    command_cases = []
    for command in commands:
        names = " ".join(n for o in command.options for n in o.names)
        words = " ".join(command.choices)
        command_cases.append(
            f"        {command.name}) opts='{names}'; words='{words}'; files={int(command.files)};;"
        )
    top = " ".join(n for o in options for n in o.names)
    return f"""# bash completion for {prog}, generated from its argument parser
{function}() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local command="" i opts words files=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            {"|".join(valued)}) ((i++));;
            -*) ;;
            *) command="${{COMP_WORDS[i]}}"; break;;
        esac
    done
    case "$prev" in
{chr(10).join(value_cases)}
        {"|".join(valued)}) return;;
    esac
    if [[ -z "$command" ]]; then
        if [[ "$cur" == -* ]]; then
            COMPREPLY=($(compgen -W '{top}' -- "$cur"))
        else
            COMPREPLY=($(compgen -W '{" ".join(c.name for c in commands)}' -- "$cur"))
        fi
        return
    fi
    case "$command" in
{chr(10).join(command_cases)}
        *) return;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ -n "$words" ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    elif ((files)); then
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -F {function} {prog}
"""


def _zsh_text(text: str) -> str:
    """Help text inside a single-quoted zsh ``_arguments`` spec."""
    text = text.replace("'", "'\\''")
    return re.sub(r"([\[\]:])", r"\\\1", text)


def _zsh_option(option: _Option) -> str:
    help_text = _zsh_text(option.help)
    value = ""
    if option.takes_value:
        action = "_directories" if option.directories else ""
        if option.choices:
            action = f"({' '.join(option.choices)})"
        value = f":value:{action}"
    if len(option.names) == 1:
        return f"'{option.names[0]}[{help_text}]{value}'"
    exclusive = " ".join(option.names)
    names = ",".join(option.names)
    return f"'({exclusive})'{{{names}}}'[{help_text}]{value}'"


def _zsh(prog: str, options: tuple[_Option, ...], commands: tuple[_Command, ...]) -> str:
    function = _function(prog)
    described = "\n".join(f"        '{c.name}:{_zsh_text(c.help)}'" for c in commands)
    cases = []
    for command in commands:
        specs = [_zsh_option(o) for o in command.options]
        if command.choices:
            specs.append(f"'1:value:({' '.join(command.choices)})'")
        elif command.files:
            specs.append("'*:file:_files'")
        joined = " \\\n                ".join(specs)
        cases.append(f"            {command.name}) _arguments \\\n                {joined};;")
    top = " \\\n        ".join(_zsh_option(o) for o in options)
    return f"""#compdef {prog}
# zsh completion for {prog}, generated from its argument parser
{function}() {{
    local -a commands
    commands=(
{described}
    )
    local curcontext="$curcontext" state line
    _arguments -C \\
        {top} \\
        '1:command:->command' \\
        '*::argument:->argument'
    case $state in
        command) _describe -t commands command commands;;
        argument)
            case $line[1] in
{chr(10).join(cases)}
            esac;;
    esac
}}
{function} "$@"
"""


def _fish_text(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option(prog: str, condition: str, option: _Option) -> str:
    parts = [f"complete -c {prog} -n {_fish_text(condition)}"]
    for name in option.names:
        parts.append(f"-l {name[2:]}" if name.startswith("--") else f"-s {name[1:]}")
    if option.choices:
        parts.append(f"-x -a {_fish_text(' '.join(option.choices))}")
    elif option.directories:
        parts.append("-x -a '(__fish_complete_directories)'")
    elif option.takes_value:
        parts.append("-x")
    parts.append(f"-d {_fish_text(option.help)}")
    return " ".join(parts)


def _fish(prog: str, options: tuple[_Option, ...], commands: tuple[_Command, ...]) -> str:
    names = " ".join(c.name for c in commands)
    lines = [
        f"# fish completion for {prog}, generated from its argument parser",
        f"complete -c {prog} -f",
    ]
    lines += [_fish_option(prog, "true", o) for o in options]
    for command in commands:
        lines.append(
            f"complete -c {prog} -n {_fish_text(f'not __fish_seen_subcommand_from {names}')}"
            f" -a {command.name} -d {_fish_text(command.help)}"
        )
        seen = f"__fish_seen_subcommand_from {command.name}"
        lines += [_fish_option(prog, seen, o) for o in command.options]
        if command.choices:
            lines.append(
                f"complete -c {prog} -n {_fish_text(seen)} -x"
                f" -a {_fish_text(' '.join(command.choices))}"
            )
        elif command.files:
            lines.append(f"complete -c {prog} -n {_fish_text(seen)} -F")
    return "\n".join(lines) + "\n"
