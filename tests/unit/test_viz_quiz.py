"""viz.quiz_reveal: the student's pick is a frame around its word's whole column, seen even where the weight
is about 0, and the hand alignment's star above the same word never covers it."""

import viz


def test_the_pick_frames_its_whole_column_and_the_star_is_above_every_bar():
    fig = viz.quiz_reveal([0.0, 0.7, 0.3], ["I", "know", "."], guess=0, model_pick=[1], hand_pick=[0])
    pick, star = fig.data[2], fig.data[3]
    assert list(pick.x) == [0] and list(pick.y) == [fig.layout.yaxis.range[1]]  # to the top of the plot
    assert pick.marker.color == "rgba(0,0,0,0)" and pick.marker.line.color == viz.quiz.GUESS_COLOR
    assert pick.marker.line.width >= 3
    assert list(star.x) == [0] and 0.7 < star.y[0] < fig.layout.yaxis.range[1]
