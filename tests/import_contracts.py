"""An import-linter contract type of gopy's own: no module is imported in a cycle.

import-linter's built-in ``acyclic_siblings`` squashes sibling packages and so also refuses cycles between
packages whose modules import each other without any module cycle; the rule here is the one the issue asks for:
in the import graph of the given packages no module reaches itself. Registered in pyproject.toml
(``contract_types``); ``lint-imports`` finds this module because it runs from the repository root.
"""

from __future__ import annotations

from typing import Any

import grimp
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def module_cycles(graph: grimp.ImportGraph, roots: set[str]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""

    def inside(module: str) -> bool:
        return module.split(".")[0] in roots

    modules = sorted(m for m in graph.modules if inside(m))
    edges = {m: sorted(n for n in graph.find_modules_directly_imported_by(m) if inside(n)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for start in modules:
        if start in index:
            continue
        work: list[tuple[str, int]] = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = edges[node]
            if i < len(targets):
                work.append((node, i + 1))
                target = targets[i]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return sorted(cycles)


class AcyclicModulesContract(Contract):
    """No module of ``packages`` imports itself through other modules (any import: top level, local, typing)."""

    type_name = "acyclic_modules"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        roots = set(self.packages)  # type: ignore[call-overload]
        cycles = module_cycles(graph, roots)
        chains = []
        for cycle in cycles:
            first, members = cycle[0], set(cycle)
            back = [
                graph.find_shortest_chain(importer=m, imported=first)
                for m in graph.find_modules_directly_imported_by(first)
                if m in members
            ]
            shortest = min((c for c in back if c), key=len, default=None)
            chains.append([first, *shortest] if shortest else cycle)
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles, "chains": chains})

    def render_broken_contract(self, check: ContractCheck) -> None:
        metadata: dict[str, Any] = check.metadata
        for cycle, chain in zip(metadata["cycles"], metadata["chains"], strict=True):
            output.print_error(f"{len(cycle)} modules import each other in a cycle: {', '.join(cycle)}")
            output.print(f"  for example {' -> '.join(chain)}")
            output.new_line()
