"""The hook between the packages: tinytorch.core.tensor finds this engine by its entry point."""

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points


def run(code):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, timeout=120)
    return result


def test_the_entry_point_is_declared():
    eps = [ep for ep in entry_points(group="tinytorch.autograd")]
    assert any(ep.value == "tinytorch.core.autograd" for ep in eps)


def test_a_fresh_process_that_imports_only_the_tensor_finds_the_engine():
    result = run("""
        import sys
        from tinytorch.core.tensor import Tensor
        assert "tinytorch.core.autograd" not in sys.modules
        x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        (x * x).sum().backward()
        assert "tinytorch.core.autograd" in sys.modules
        print(x.grad.tolist())
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[2.0, 4.0, 6.0]"


def test_without_the_entry_point_backward_names_the_package_to_install():
    result = run("""
        import tinytorch.core.tensor.graph as graph
        graph.entry_points = lambda group: []   # as if tinytorch-autograd were not installed
        from tinytorch.core.tensor import Tensor
        x = Tensor([1.0], requires_grad=True)
        try:
            (x * 2).sum().backward()
        except RuntimeError as err:
            print(err)
    """)
    assert result.returncode == 0, result.stderr
    assert "pip install tinytorch-autograd" in result.stdout
