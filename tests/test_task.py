from zope.interface.verify import verifyObject

from zodbtasks.interfaces import ITask
from zodbtasks.task import SimpleTask
from zodbtasks.task import TaskError


def test_simple_task_provides_ITask():
    assert verifyObject(ITask, SimpleTask(len))


def test_simple_task_calls_function_with_input():
    assert SimpleTask(lambda x: x * 2)(None, 1, 21) == 42


def test_task_error_carries_message():
    assert str(TaskError('no mail server')) == 'no mail server'


def test_repr_names_function():
    assert 'len' in repr(SimpleTask(len))
