import threading
import time

from graphcl_rec.serve.rwlock import ReadWriteLock


def test_readers_share_and_a_writer_waits_for_them():
    lock = ReadWriteLock()
    inside = threading.Barrier(3, timeout=10)
    release = threading.Event()
    wrote = threading.Event()

    def reader():
        with lock.read():
            inside.wait()  # both readers in at once
            release.wait(10)

    def writer():
        with lock.write():
            wrote.set()

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    inside.wait()
    assert lock.readers == 2
    w = threading.Thread(target=writer)
    w.start()
    time.sleep(0.1)
    assert not wrote.is_set()  # the readers are still inside
    release.set()
    for t in [*readers, w]:
        t.join(10)
    assert wrote.is_set() and lock.readers == 0 and not lock.writing


def test_a_waiting_writer_holds_back_new_readers():
    lock = ReadWriteLock()
    order = []
    first_in = threading.Event()
    release = threading.Event()

    def first_reader():
        with lock.read():
            first_in.set()
            release.wait(10)
            order.append("first reader")

    def writer():
        with lock.write():
            order.append("writer")

    def late_reader():
        with lock.read():
            order.append("late reader")

    threads = [threading.Thread(target=first_reader)]
    threads[0].start()
    first_in.wait(10)
    threads.append(threading.Thread(target=writer))
    threads[1].start()
    while not lock._waiting_writers:
        time.sleep(0.01)
    threads.append(threading.Thread(target=late_reader))
    threads[2].start()
    time.sleep(0.1)
    assert order == []  # the late reader waits behind the waiting writer
    release.set()
    for t in threads:
        t.join(10)
    assert order == ["first reader", "writer", "late reader"]
